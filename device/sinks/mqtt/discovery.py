"""Home Assistant MQTT discovery: what a Pi announces so that Home Assistant shows it without YAML.

One device per Pi (its client id) groups a sensor for the label (score, model, top-3 and the reason
for "nothing in view" as attributes), a diagnostic sensor for frames per second (with the delivery
counters as attributes), and, in trigger mode, a button whose press classifies one frame. Each
watched region has a sensor (an enum of its states), its snapshot (an MQTT image) and, for a
two-state model whose "on" state the config names, a binary sensor; the Label sensor then goes. Each
config is retained on ``<discovery_prefix>/<component>/<node>/<object>/config``; an empty retained
payload removes an entity, which is what the button gets when the Pi is not in trigger mode.
See https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, Sequence

from piclassify.device.core.regions import NOTHING  # the label sensor's state for a result without a label
from piclassify.device.sinks.mqtt.regions import region_topics

PRESS = "PRESS"  # what the button sends on <prefix>/trigger (any payload captures a frame)
_DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


class Model(Protocol):
    """What discovery needs of the manifest."""

    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Sequence[str]: ...  # empty for a regression model: its sensor shows the value


@dataclass(frozen=True)
class RegionEntity:
    """What Home Assistant is told of a watched region: its name, its states (its model's labels and "nothing in
    view"), and the state that is "on" for a binary sensor (a two-state model's, when the config names it)."""

    name: str
    states: tuple[str, ...]
    on: Optional[str] = None


def topics(prefix: str) -> dict[str, str]:
    """The Pi's own topics under ``prefix``."""
    return {name: f"{prefix}/{name}" for name in ("result", "state", "availability", "stats", "trigger")}


def discovery_messages(*, node: str, prefix: str, discovery_prefix: str, model: Model, trigger: bool,
                       sw_version: str, hardware: str = "",
                       regions: Sequence[RegionEntity] = ()) -> list[tuple[str, str]]:
    """(topic, payload) of every config to publish retained; an empty payload removes that entity. With watched
    regions, each region has its entities and the whole frame's Label sensor is removed (nothing updates it)."""
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
    return [(where.format("sensor", "label"), "" if regions else _payload({**label, **common})),
            (where.format("sensor", "fps"), _payload({**fps, **common})),
            (where.format("button", "trigger"), _payload({**button, **common}) if trigger else ""),
            *[(where.format(component, f"region_{region.name}"), _payload({**config, **common}) if config else "")
              for region in regions for component, config in region_configs(node, prefix, region).items()]]


def region_configs(node: str, prefix: str, region: RegionEntity) -> dict[str, dict[str, Any]]:
    """A region's entities by component: a sensor (an enum of its states, last_changed and the score as attributes),
    its snapshot (an MQTT image, JPEG), and a binary_sensor when its model has two labels and ``on`` names one (an
    empty config, which removes it, otherwise)."""
    own, unique = region_topics(prefix, region.name), f"piclassify_{node}_region_{region.name}"
    sensor = {"name": region.name, "unique_id": unique, "state_topic": own["state"], "icon": "mdi:eye",
              "value_template": "{{ value_json.state }}", "device_class": "enum", "options": list(region.states),
              "json_attributes_topic": own["state"],
              "json_attributes_template": "{{ {'last_changed': value_json.last_changed, 'score': value_json.score, "
                                          "'model': value_json.model, 'time': value_json.time} | tojson }}"}
    image = {"name": f"{region.name} snapshot", "unique_id": f"{unique}_image", "image_topic": own["image"],
             "content_type": "image/jpeg"}
    binary: dict[str, Any] = {}
    if region.on is not None and len(region.states) == 3:  # two labels and "nothing in view"
        binary = {"name": f"{region.name} {region.on}", "unique_id": f"{unique}_on", "state_topic": own["state"],
                  "value_template": f"{{{{ 'ON' if value_json.state == {json.dumps(region.on)} else 'OFF' }}}}",
                  "json_attributes_topic": own["state"],
                  "json_attributes_template": "{{ {'last_changed': value_json.last_changed} | tojson }}"}
    return {"sensor": sensor, "image": image, "binary_sensor": binary}


def raspberry_pi_model() -> str:
    """"Raspberry Pi 4 Model B Rev 1.4" on a Pi, "" elsewhere."""
    try:
        return _DEVICE_TREE_MODEL.read_bytes().rstrip(b"\0").decode("ascii", "replace").strip()
    except OSError:
        return ""


def _payload(config: dict[str, Any]) -> str:
    return json.dumps(config, ensure_ascii=False, separators=(",", ":"))
