"""Optional: every Home Assistant discovery payload the Pi publishes, checked by Home Assistant's own schemas.

Home Assistant's MQTT platforms (``components/mqtt/{sensor,binary_sensor,image,button}.py``) each
have a ``DISCOVERY_SCHEMA``; it drops keys it does not know without a word, so the keys that
survive are compared too. ``homeassistant`` is heavy and pins its own dependencies, so it is not
one of piclassify's: give a Python that has it in ``PICLASSIFY_HA_PYTHON`` (on Python 3.11 the
newest that installs is 2024.1.x: ``python3 -m venv /tmp/ha && /tmp/ha/bin/pip install
homeassistant==2024.1.6``), or install it beside piclassify; without it this test skips.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from piclassify.device.core.regions import NOTHING
from piclassify.device.sinks.mqtt.discovery import RegionEntity, discovery_messages

CHECK = """
import json, sys
import homeassistant.bootstrap  # Home Assistant's modules import each other in circles unless this comes first
from homeassistant.components.mqtt import binary_sensor, button, image, sensor
schemas = {"sensor": sensor.DISCOVERY_SCHEMA, "binary_sensor": binary_sensor.DISCOVERY_SCHEMA,
           "image": image.DISCOVERY_SCHEMA, "button": button.DISCOVERY_SCHEMA}
problems = []
for topic, payload in json.load(sys.stdin):
    try:
        validated = schemas[topic.split("/")[1]](dict(payload))
    except Exception as error:
        problems.append([topic, str(error)])
        continue
    problems += [[topic, "dropped " + key] for key in sorted(set(payload) - set(validated))]
print(json.dumps(problems))
"""
# Keys newer than the schemas of the Home Assistant that installs here: the enum sensor's ``options`` (its states)
# came to MQTT sensors after 2024.1; an older Home Assistant shows the state without the list.
NEWER = {"dropped options"}


def home_assistant_python() -> str:
    given = os.environ.get("PICLASSIFY_HA_PYTHON")
    if given:
        return given
    if importlib.util.find_spec("homeassistant") is not None:
        return sys.executable
    pytest.skip("homeassistant is not installed (set PICLASSIFY_HA_PYTHON to a Python that has it)")


class _Model:
    name, labels = "garage", ("open", "shut")


def test_every_discovery_payload_passes_home_assistants_own_schemas_with_every_key_kept():
    python = home_assistant_python()
    messages = [*discovery_messages(node="pi", prefix="piclassify/pi", discovery_prefix="homeassistant",
                                    model=_Model(), trigger=True, sw_version="1.0", hardware="test",
                                    regions=[RegionEntity("garage", ("open", "shut", NOTHING), on="open"),
                                             RegionEntity("bins", ("out", "in", "half", NOTHING))]),
                *discovery_messages(node="pi2", prefix="piclassify/pi2", discovery_prefix="homeassistant",
                                    model=_Model(), trigger=False, sw_version="1.0", hardware="test")]
    payloads = [(topic, json.loads(payload)) for topic, payload in messages if payload]
    assert {topic.split("/")[1] for topic, _ in payloads} == {"sensor", "binary_sensor", "image", "button"}
    checked = subprocess.run([python, "-c", CHECK], input=json.dumps(payloads), capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stderr[-2000:]
    problems = [(topic, problem) for topic, problem in json.loads(checked.stdout) if problem not in NEWER]
    assert problems == []
