"""Home Assistant MQTT discovery: what a Pi announces so that Home Assistant shows it without YAML.

One device per Pi (its client id) groups a sensor for the label (score, model, top-3 and the reason
for "nothing in view" as attributes), a diagnostic sensor for frames per second (with the delivery
counters as attributes), and, in trigger mode, a button whose press classifies one frame. Each
config is retained on ``<discovery_prefix>/<component>/<node>/<object>/config``; an empty retained
payload removes an entity, which is what the button gets when the Pi is not in trigger mode.
See https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, Sequence

NOTHING = "nothing in view"  # the label sensor's state for a result without a label
PRESS = "PRESS"  # what the button sends on <prefix>/trigger (any payload captures a frame)
_DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


class Model(Protocol):
    """What discovery needs of the manifest."""

    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Sequence[str]: ...  # empty for a regression model: its sensor shows the value


def topics(prefix: str) -> dict[str, str]:
    """The Pi's own topics under ``prefix``."""
    return {name: f"{prefix}/{name}" for name in ("result", "state", "availability", "stats", "trigger")}


def discovery_messages(*, node: str, prefix: str, discovery_prefix: str, model: Model, trigger: bool,
                       sw_version: str, hardware: str = "") -> list[tuple[str, str]]:
    """(topic, payload) of every config to publish retained; an empty payload removes that entity."""
    own = topics(prefix)
    device = {"identifiers": [f"piclassify_{node}"], "name": node, "manufacturer": "piclassify",
              "model": hardware or raspberry_pi_model() or "piclassify", "sw_version": sw_version}
    common = {"availability_topic": own["availability"], "payload_available": "online",
              "payload_not_available": "offline", "device": device,
              "origin": {"name": "piclassify", "sw_version": sw_version}}
    label: dict[str, Any] = {
        "name": "Label", "unique_id": f"piclassify_{node}_label",
        "state_topic": own["state"], "icon": "mdi:eye",
        "json_attributes_topic": own["state"],
        "json_attributes_template": "{{ {'score': value_json.score, 'model': value_json.model, "
                                    "'top': value_json.top, 'reason': value_json.reason, "
                                    "'time': value_json.time, 'frame': value_json.frame} | tojson }}",
    }
    if model.labels:
        label["value_template"] = f"{{{{ value_json.label if value_json.label is not none else '{NOTHING}' }}}}"
        label["device_class"] = "enum"
        label["options"] = [*model.labels, NOTHING]
    else:  # a regression table model: a number, no label
        label["value_template"] = "{{ value_json.value }}"
    fps = {"name": "Frames per second", "unique_id": f"piclassify_{node}_fps",
           "state_topic": own["stats"], "value_template": "{{ value_json.fps }}", "unit_of_measurement": "fps",
           "state_class": "measurement", "entity_category": "diagnostic", "icon": "mdi:speedometer",
           "json_attributes_topic": own["stats"]}
    button = {"name": "Classify now", "unique_id": f"piclassify_{node}_trigger",
              "command_topic": own["trigger"], "payload_press": PRESS, "icon": "mdi:camera-iris"}
    where = f"{discovery_prefix}/{{}}/{node}/{{}}/config"
    return [(where.format("sensor", "label"), _payload({**label, **common})),
            (where.format("sensor", "fps"), _payload({**fps, **common})),
            (where.format("button", "trigger"), _payload({**button, **common}) if trigger else "")]


def raspberry_pi_model() -> str:
    """"Raspberry Pi 4 Model B Rev 1.4" on a Pi, "" elsewhere."""
    try:
        return _DEVICE_TREE_MODEL.read_bytes().rstrip(b"\0").decode("ascii", "replace").strip()
    except OSError:
        return ""


def _payload(config: dict[str, Any]) -> str:
    return json.dumps(config, ensure_ascii=False, separators=(",", ":"))
