"""Watched regions on MQTT, against a real broker (Mosquitto, as in ``test_mqtt.py``): per region, its steady state
retained with when it last changed, its snapshot as JPEG at each change, and Home Assistant's entities for it."""

from __future__ import annotations

import io
import json
import queue
from dataclasses import replace

import numpy as np

from piclassify.device.config import MqttConfig
from piclassify.device.core.frames import Frame
from piclassify.device.core.regions import NOTHING
from piclassify.device.core.sink import Delivery, Sinks
from piclassify.device.sinks.mqtt.discovery import RegionEntity, discovery_messages

from conftest import make_result, wait_until
from tests.device.sinks.mqtt.test_mqtt import _Model, broker, listen  # noqa: F401 (fixtures)

GARAGE = RegionEntity("garage", ("open", "shut", NOTHING), on="open")


def answer(label: str, frame: int, steady: bool = True, changed: bool = False, shade: int = 0) -> Delivery:
    crop = Frame(np.full((30, 40, 3), shade, np.uint8), 1_700_000_000.0 + frame, frame, "camera")
    result = replace(make_result(label, frame=frame, time=1_700_000_000.0 + frame), region="garage")
    return Delivery(result, crop, changed=changed, steady=steady, crop=crop)


def test_a_region_publishes_its_steady_state_with_last_changed_and_a_snapshot_at_each_change(broker, listen):  # noqa: F811
    from PIL import Image

    from piclassify.device.sinks.mqtt.sink import MqttSink

    listener = listen(broker, ("piclassify/pi/#", "homeassistant/#"))
    config = MqttConfig(host="127.0.0.1", port=broker.port, client_id="pi")
    sink = MqttSink(config, model=_Model(), events=queue.SimpleQueue(), regions=[GARAGE])
    sinks = Sinks([sink])  # as the loop hands them over: raw answers only to sinks that ask
    try:
        for delivery in (answer("shut", 0, changed=True, shade=10), answer("shut", 1), answer("open", 2, steady=False),
                         answer("open", 3, steady=False), answer("open", 4, changed=True, shade=200)):
            sinks.handle(delivery)
            wait_until(lambda: not sink.queued, 2)  # each answer goes out before the next (no merging of states)
        state = "piclassify/pi/region/garage/state"
        assert wait_until(lambda: len(listener.records(state)) == 3)
        records = listener.records(state)
        assert [(r["state"], r["frame"], r["region"]) for r in records] == [("shut", 0, "garage"), ("shut", 1, "garage"),
                                                                           ("open", 4, "garage")]
        assert [r["last_changed"] for r in records] == ["2023-11-14T22:13:20.000+00:00"] * 2 + [
            "2023-11-14T22:13:24.000+00:00"]
        images = [payload for topic, payload, _ in listener.messages if topic == "piclassify/pi/region/garage/image"]
        assert [Image.open(io.BytesIO(jpeg)).size for jpeg in images] == [(40, 30), (40, 30)]
        assert np.asarray(Image.open(io.BytesIO(images[-1]))).mean() > 190  # the snapshot of the change to "open"
        assert listener.payloads("piclassify/pi/state") == []  # the whole frame's state is not a region's
        assert len(listener.records("piclassify/pi/result")) == 3  # steady answers only: raw ones stay local
    finally:
        sink.close()


def test_home_assistant_is_told_each_regions_sensor_snapshot_and_binary_sensor():
    messages = dict(discovery_messages(node="pi", prefix="piclassify/pi", discovery_prefix="homeassistant",
                                       model=_Model(), trigger=False, sw_version="1", hardware="test",
                                       regions=[GARAGE, RegionEntity("bins", ("out", "in", "maybe", NOTHING))]))
    sensor = json.loads(messages["homeassistant/sensor/pi/region_garage/config"])
    assert sensor["options"] == ["open", "shut", NOTHING] and sensor["device_class"] == "enum"
    assert sensor["state_topic"] == sensor["json_attributes_topic"] == "piclassify/pi/region/garage/state"
    assert "last_changed" in sensor["json_attributes_template"] and sensor["availability_topic"]
    binary = json.loads(messages["homeassistant/binary_sensor/pi/region_garage/config"])
    assert binary["value_template"] == "{{ 'ON' if value_json.state == \"open\" else 'OFF' }}"
    image = json.loads(messages["homeassistant/image/pi/region_garage/config"])
    assert image["image_topic"] == "piclassify/pi/region/garage/image" and image["content_type"] == "image/jpeg"
    assert messages["homeassistant/binary_sensor/pi/region_bins/config"] == ""  # three labels: no binary sensor
    assert messages["homeassistant/sensor/pi/label/config"] == ""  # the whole frame is not classified
    unique = [json.loads(payload)["unique_id"] for payload in messages.values() if payload]
    assert len(unique) == len(set(unique))
