"""Results on MQTT, against a real broker: Mosquitto, started here on a free port and stopped after.

The services run as in ``tests/helpers/service.py`` (``fake_service_main``: a camera of ~50 frames/s
and a 30 ms model, about 20 results a second), in-process where a test only needs the sink and as
subprocesses where the process itself matters (kill -9, SIGTERM, two Pis at once). Without
mosquitto these tests skip; with CI=true they fail instead (``.ci/run`` installs it).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional, Union

import pytest

from piclassify.device.commands.cli import main as cli_main
from piclassify.device.config import ConfigError, MqttConfig, load_config, parse_config
from piclassify.device.core.loop import CAPTURE
from piclassify.device.core.sink import Delivery, Sinks

from conftest import REPO, make_frame, make_result, wait_until

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin:/usr/local/sbin")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/sbin:/usr/bin")


def require(condition: Any, message: str) -> None:
    """Skip without it on a developer's machine; fail under CI=true, where .ci/run installs it."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def have_paho() -> bool:
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        return False
    return True


# -- the broker -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mosquitto:
    """Our own mosquitto process (never the system service) with a generated config; ``restart`` keeps the port."""

    def __init__(self, folder: Path, extra: str = "", tls: Optional[dict[str, Path]] = None) -> None:
        require(MOSQUITTO, "mosquitto is not installed (apt install mosquitto)")
        require(have_paho(), "paho-mqtt is not installed (pip install -e '.[test]')")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        tls_lines = "" if tls is None else \
            f"cafile {tls['ca']}\ncertfile {tls['cert']}\nkeyfile {tls['key']}\n"
        # `user`: run as root, mosquitto would otherwise switch to the user "mosquitto" and not read our files
        self.config.write_text(f"listener {self.port} 127.0.0.1\n{tls_lines}persistence false\n"
                               f"user {getpass.getuser()}\nlog_dest stderr\n{extra}\n")
        self.process: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        with open(self.folder / "mosquitto.log", "a") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log)
        assert wait_until(self._listening, 10), (self.folder / "mosquitto.log").read_text()

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, (self.folder / "mosquitto.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def address(self, **options: Any) -> Any:
        from piclassify.device.sinks.mqtt.client import Broker

        return Broker("127.0.0.1", self.port, **options)


@pytest.fixture
def broker(tmp_path):
    """A broker that lets anyone in."""
    running = Mosquitto(tmp_path / "broker", "allow_anonymous true")
    yield running
    running.stop()


USERS = {"pi1": "correct horse battery staple", "reader": "reader-secret"}


@pytest.fixture
def auth_broker(tmp_path):
    """Users and passwords (mosquitto_passwd) and an ACL: pi1 writes its own topics and discovery; reader reads."""
    require(MOSQUITTO_PASSWD, "mosquitto_passwd is not installed (apt install mosquitto)")
    folder = tmp_path / "auth-broker"
    folder.mkdir()
    passwords = folder / "passwords"
    for user, password in USERS.items():
        subprocess.run([MOSQUITTO_PASSWD, *([] if passwords.exists() else ["-c"]), "-b", str(passwords), user,
                        password], check=True, capture_output=True)
    passwords.chmod(0o600)
    acl = folder / "acl"
    acl.write_text("user pi1\ntopic readwrite piclassify/pi1/#\ntopic write homeassistant/#\n\n"
                   "user reader\ntopic read #\ntopic write piclassify/+/trigger\n")
    acl.chmod(0o600)
    running = Mosquitto(folder, f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}")
    yield running
    running.stop()


class Listener:
    """A subscriber that reconnects by itself (a broker restart) and keeps every message it gets."""

    def __init__(self, broker: Any, topics: tuple[str, ...] = ("#",)) -> None:
        from piclassify.device.sinks.mqtt.client import new_client, on_connect, on_message, on_subscribe

        self.messages: list[tuple[str, bytes, bool]] = []
        self._subscribed = threading.Event()
        self.client = new_client(f"test-{uuid.uuid4().hex[:8]}", broker)
        on_connect(self.client, lambda refusal: refusal is None and self.client.subscribe([(t, 1) for t in topics]))
        on_subscribe(self.client, self._subscribed.set)
        on_message(self.client, lambda m: self.messages.append((m.topic, bytes(m.payload), bool(m.retain))))
        self.client.reconnect_delay_set(0.1, 0.2)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the test's subscriber could not subscribe"

    def payloads(self, topic: str) -> list[str]:
        return [payload.decode() for name, payload, _ in list(self.messages) if name == topic]

    def records(self, topic: str) -> list[dict]:
        return [json.loads(payload) for payload in self.payloads(topic)]

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        assert self.client.publish(topic, payload, 1, retain=retain).rc == 0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def listen():
    """``listen(broker, topics)`` -> a running ``Listener``, closed after the test."""
    made: list[Listener] = []

    def make(broker: Union[Mosquitto, Any], topics: tuple[str, ...] = ("#",)) -> Listener:
        made.append(Listener(broker.address() if isinstance(broker, Mosquitto) else broker, topics))
        return made[-1]

    yield make
    for listener in made:
        listener.close()


# -- the service as a subprocess --------------------------------------------------------------

SERVICE = ("import sys; sys.path[:0] = [sys.argv[1]]; from tests.helpers.service import fake_service_main; "
           "sys.exit(fake_service_main(sys.argv[2]))")


class Pi:
    """``fake_service_main`` in a subprocess: ~20 results/s of model ``alpha``; its log in a file to read any time."""

    def __init__(self, folder: Path, mqtt: str, top: str = 'model = "alpha"') -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.results_path = folder / "results.jsonl"
        self.log_path = folder / "service.log"
        self.config_path = folder / "piclassify.toml"
        self.config_path.write_text(f'{top}\n[mqtt]\n{mqtt}\n[results]\npath = "{self.results_path}"\n')
        load_config(self.config_path)  # a mistake here is the test's, and clearer in-process
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-c", SERVICE, str(REPO), str(self.config_path)],
                                            env={**os.environ, "NOTIFY_SOCKET": ""}, stdout=subprocess.DEVNULL,
                                            stderr=log)

    def results(self) -> list[dict]:
        data = self.results_path.read_bytes() if self.results_path.exists() else b""
        return [json.loads(line) for line in data.split(b"\n")[:-1]]

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def start_pi(tmp_path):
    """``start_pi(name, mqtt_lines, top=...)`` -> a running ``Pi``; killed after the test if still running."""
    started: list[Pi] = []

    def start(name: str, mqtt: str, top: str = 'model = "alpha"') -> Pi:
        started.append(Pi(tmp_path / name, mqtt, top))
        return started[-1]

    yield start
    for pi in started:
        pi.kill()


def mqtt_lines(broker: Mosquitto, name: str, extra: str = "") -> str:
    return f'host = "127.0.0.1"\nport = {broker.port}\nclient_id = "{name}"\nstats_every_s = 1\n{extra}'


def frames_of(records: list[dict]) -> set[int]:
    return {record["frame"] for record in records}


# -- the tests --------------------------------------------------------------------------------

def test_results_arrive_in_the_result_schema_the_newest_retained_and_offline_on_a_clean_stop(
        broker, listen, start_pi):
    listener = listen(broker, ("piclassify/#",))
    pi = start_pi("pi1", mqtt_lines(broker, "pi1"))
    assert wait_until(lambda: len(listener.payloads("piclassify/pi1/result")) >= 10, 30), pi.log()
    assert pi.stop() == 0, pi.log()
    logged = pi.results()
    published = listener.records("piclassify/pi1/result")
    assert published == logged, "every result, in the results log's schema and order; a clean stop sends the queue"
    assert list(published[0]) == ["schema", "time", "model", "source", "frame", "label", "index", "score", "top",
                                  "reason", "latency_ms"]
    assert (published[0]["schema"], published[0]["label"], published[0]["top"]) == (1, "alpha", [["alpha", 0.75],
                                                                                                ["other", 0.25]])
    assert listener.payloads("piclassify/pi1/availability") == ["online", "offline"]
    stats = listener.records("piclassify/pi1/stats")
    assert stats and set(stats[-1]) == {"fps", "classified", "published", "queued", "dropped"}
    assert stats[-1]["published"] == len(logged) and stats[-1]["dropped"] == 0
    assert any(record["fps"] > 1 for record in stats), stats
    later = listen(broker, ("piclassify/pi1/state", "piclassify/pi1/availability"))  # what a newcomer gets
    assert wait_until(lambda: len(later.messages) == 2)
    assert later.records("piclassify/pi1/state") == [logged[-1]]
    assert later.payloads("piclassify/pi1/availability") == ["offline"]
    assert all(retained for _, _, retained in later.messages)
    assert "MQTT broker 127.0.0.1:%d: connected" % broker.port in pi.log()
    assert "Traceback" not in pi.log()


def test_home_assistant_discovery_announces_the_label_fps_and_in_trigger_mode_a_button(broker, listen, start_pi):
    pi = start_pi("kitchen", mqtt_lines(broker, "kitchen", 'discovery_prefix = "ha"'), top='mode = "trigger"')
    listener = listen(broker, ("ha/#", "piclassify/kitchen/availability"))
    assert wait_until(lambda: "online" in listener.payloads("piclassify/kitchen/availability"), 30), pi.log()
    assert wait_until(lambda: len(listener.messages) >= 4)
    configs = {topic: json.loads(payload) for topic, payload, _ in listener.messages if topic.startswith("ha/")}
    assert set(configs) == {"ha/sensor/kitchen/label/config", "ha/sensor/kitchen/fps/config",
                            "ha/button/kitchen/trigger/config"}
    for config in configs.values():  # what Home Assistant requires of each, and one device grouping them
        assert config["unique_id"].startswith("piclassify_kitchen_")
        assert config["availability_topic"] == "piclassify/kitchen/availability"
        assert config["device"]["identifiers"] == ["piclassify_kitchen"]
        assert {"name", "model", "sw_version"} <= set(config["device"])
    assert len({config["unique_id"] for config in configs.values()}) == 3
    label = configs["ha/sensor/kitchen/label/config"]
    assert label["state_topic"] == "piclassify/kitchen/state"
    assert label["json_attributes_topic"] == "piclassify/kitchen/state"
    assert all(key in label["json_attributes_template"] for key in ("score", "model", "top"))
    assert label["options"] == ["digits", "other", "nothing in view"]  # the fake model's labels
    assert configs["ha/sensor/kitchen/fps/config"]["state_topic"] == "piclassify/kitchen/stats"
    assert configs["ha/button/kitchen/trigger/config"]["command_topic"] == "piclassify/kitchen/trigger"
    assert pi.stop() == 0

    # the same Pi in continuous mode removes its button (an empty retained config)
    pi = start_pi("kitchen-2", mqtt_lines(broker, "kitchen", 'discovery_prefix = "ha"'))
    assert wait_until(lambda: listener.payloads("ha/button/kitchen/trigger/config")[-1:] == [""], 30), pi.log()
    assert pi.stop() == 0


def test_one_trigger_message_in_trigger_mode_gives_exactly_one_result(broker, listen, start_pi):
    listener = listen(broker, ("piclassify/#",))
    listener.publish("piclassify/pi1/trigger", "PRESS", retain=True)  # a retained press is old news, not a press
    pi = start_pi("pi1", mqtt_lines(broker, "pi1"), top='model = "alpha"\nmode = "trigger"')
    assert wait_until(lambda: "online" in listener.payloads("piclassify/pi1/availability"), 30), pi.log()
    time.sleep(1.0)
    assert pi.results() == [] and listener.payloads("piclassify/pi1/result") == []
    listener.publish("piclassify/pi1/trigger", "", retain=True)  # clear it
    listener.publish("piclassify/pi1/trigger", "PRESS")
    assert wait_until(lambda: len(pi.results()) >= 1, 10), pi.log()
    time.sleep(1.0)  # the camera keeps delivering frames: nothing more may be classified
    assert len(pi.results()) == 1
    assert pi.stop() == 0
    assert listener.records("piclassify/pi1/result") == pi.results()


@pytest.mark.broker
def test_offline_is_the_last_will_after_kill_9(broker, listen, start_pi):
    listener = listen(broker, ("piclassify/pi1/availability",))
    pi = start_pi("pi1", mqtt_lines(broker, "pi1"))
    assert wait_until(lambda: listener.payloads("piclassify/pi1/availability") == ["online"], 30), pi.log()
    pi.process.send_signal(signal.SIGKILL)
    pi.process.wait(10)
    assert wait_until(lambda: listener.payloads("piclassify/pi1/availability") == ["online", "offline"], 10)
    assert listener.messages[-1][2] is False  # a live message, and retained on the broker for newcomers:
    newcomer = listen(broker, ("piclassify/pi1/availability",))
    assert wait_until(lambda: newcomer.payloads("piclassify/pi1/availability") == ["offline"])


@pytest.mark.broker
def test_a_broker_away_for_10_s_loses_only_what_the_queue_bound_allows(broker, listen, start_pi):
    listener = listen(broker, ("piclassify/+/result",))
    roomy = start_pi("roomy", mqtt_lines(broker, "roomy"))  # queue_size 1000: room for the whole outage
    tight = start_pi("tight", mqtt_lines(broker, "tight", "queue_size = 20"))
    assert wait_until(lambda: all(len(listener.payloads(f"piclassify/{name}/result")) >= 5
                                  for name in ("roomy", "tight")), 30), roomy.log() + tight.log()
    at_stop = {pi: len(pi.results()) for pi in (roomy, tight)}
    broker.stop()
    time.sleep(10)
    during = {pi: len(pi.results()) for pi in (roomy, tight)}
    broker.start()
    for pi in (roomy, tight):  # reconnected (backoff 1, 2, 4, 8 s) and delivering what came after the outage
        name = pi.config_path.parent.name
        assert wait_until(lambda: max(frames_of(listener.records(f"piclassify/{name}/result")), default=-1)
                          >= during[pi] + 5, 30), pi.log()
    for pi in (roomy, tight):
        assert pi.stop() == 0, pi.log()

    # A result the broker acknowledged just as it stopped may die with the broker (this mosquitto keeps
    # nothing on disk) before it reaches the listener: the Pi counted it delivered, rightly. At most
    # that one message (and its neighbour) may be missing beyond what the Pi says it dropped.
    def lost_by_the_broker(missing: set[int], pi) -> set[int]:
        return {frame for frame in missing if abs(frame - at_stop[pi]) <= 5}

    roomy_missing = frames_of(roomy.results()) - frames_of(listener.records("piclassify/roomy/result"))
    assert len(roomy_missing) <= 2 and roomy_missing == lost_by_the_broker(roomy_missing, roomy), roomy.log()
    assert "connected again; nothing was lost" in roomy.log()

    tight_logged = frames_of(tight.results())
    tight_missing = tight_logged - frames_of(listener.records("piclassify/tight/result"))
    dropped = [line for line in tight.log().splitlines() if "results were dropped meanwhile" in line]
    assert len(dropped) == 1, tight.log()
    count = int(dropped[0].split("connected again; ")[1].split()[0])
    assert count > 100, "10 s at ~20 results/s, 20 kept (and up to 20 in flight)"
    assert count <= len(tight_missing) <= count + 2, (count, sorted(tight_missing))
    assert max(tight_missing) - min(tight_missing) + 1 == len(tight_missing), \
        "one run of results, the oldest of the outage: the queue keeps the newest"
    for pi in (roomy, tight):
        log = pi.log()
        refused = [line for line in log.splitlines() if "connection refused" in line]
        assert len(refused) == 1, log  # one line per kind of fault, not one per retry
        assert f"127.0.0.1:{broker.port}" in refused[0]


@pytest.mark.broker
def test_a_wrong_password_is_one_line_and_the_service_keeps_classifying(auth_broker, listen, start_pi, tmp_path):
    (tmp_path / "wrong.password").write_text("not the password\n")
    (tmp_path / "right.password").write_text(USERS["pi1"] + "\n")
    wrong = start_pi("wrong", mqtt_lines(auth_broker, "pi1",
                                         f'username = "pi1"\npassword_file = "{tmp_path}/wrong.password"'))
    reader = listen(auth_broker.address(username="reader", password_file=_password_file(tmp_path, "reader")),
                    ("piclassify/#", "homeassistant/#"))
    started = time.monotonic()
    assert wait_until(lambda: len(wrong.results()) >= 40 and time.monotonic() - started > 4, 30), wrong.log()
    assert wrong.stop() == 0
    assert reader.payloads("piclassify/pi1/result") == []
    lines = [line for line in wrong.log().splitlines() if f"127.0.0.1:{auth_broker.port}" in line and "ERROR" in line]
    assert len(lines) == 1, wrong.log()  # at 0, 1 and 3 s: three refusals, one line
    assert "refused: not authorized (check username and password_file)" in lines[0]
    assert "not the password" not in wrong.log() and USERS["pi1"] not in wrong.log()

    right = start_pi("right", mqtt_lines(auth_broker, "pi1",
                                         f'username = "pi1"\npassword_file = "{tmp_path}/right.password"'))
    assert wait_until(lambda: len(reader.payloads("piclassify/pi1/result")) >= 3, 30), right.log()
    assert "homeassistant/sensor/pi1/label/config" in {topic for topic, _, _ in reader.messages}
    assert right.stop() == 0
    assert USERS["pi1"] not in right.log() and "ERROR" not in right.log()


def _password_file(folder: Path, user: str) -> Path:
    path = folder / f"{user}.password"
    path.write_text(USERS[user])
    return path


def test_fleet_shows_every_pi_on_the_broker(broker, listen, start_pi, capsys):
    listener = listen(broker, ("piclassify/+/state", "piclassify/+/stats"))
    pis = {name: start_pi(name, mqtt_lines(broker, name)) for name in ("pi-a", "pi-b")}
    assert wait_until(lambda: {topic for topic, _, _ in listener.messages} == {
        f"piclassify/{name}/{kind}" for name in pis for kind in ("state", "stats")}, 30)
    assert cli_main(["fleet", "--host", "127.0.0.1", "--port", str(broker.port), "--once", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["name"], p["online"], p["label"], p["score"], p["model"]) for p in lines] == [
        ("pi-a", True, "alpha", 0.75, "alpha"), ("pi-b", True, "alpha", 0.75, "alpha")]
    assert all(0 <= p["age_s"] < 30 and p["fps"] is not None for p in lines)

    assert pis["pi-b"].stop() == 0
    assert cli_main(["fleet", "--host", "127.0.0.1", "--port", str(broker.port), "--seconds", "0.5"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["NAME", "ONLINE", "LABEL", "SCORE", "AGE"]
    assert [row.split()[:4] for row in table[1:]] == [["pi-a", "online", "alpha", "0.75"],
                                                      ["pi-b", "offline", "alpha", "0.75"]]


def test_fleet_passes_over_what_no_pi_would_publish(capsys):
    """Any client that may publish on the broker can retain anything under the prefix: it never crashes the
    command, never reaches the terminal with control characters, and --json stays JSON."""
    import io

    from piclassify.device.commands.fleet import MAX_PIS, Fleet, _print

    fleet = Fleet("piclassify")
    good = {"time": "2026-01-01T00:00:00+00:00", "label": "cat", "score": 0.9, "model": "catsdogs"}
    fleet.take("piclassify/pi-a/state", json.dumps(good).encode())
    for topic, payload in [
        ("piclassify/pi-a/stats", b'{"fps": "fast"}'),
        ("piclassify/pi-b/stats", b"[1, 2]"),
        ("piclassify/pi-c/state", b"[" * 100_000 + b"]" * 100_000),
        ("piclassify/pi-d/state", json.dumps({**good, "label": "\x1b]0;owned\x07\x1b[2J"}).encode()),
        ("piclassify/pi-e/state", b'{"label": "cat", "score": NaN}'),
        ("piclassify/evil\x1b[2J/state", json.dumps(good).encode()),
        ("piclassify/pi-f/state", b" " * (1 << 20)),
    ]:
        fleet.take(topic, payload, retained=True)
    for number in range(2 * MAX_PIS):
        fleet.take(f"piclassify/made-up-{number}/availability", b"online")
    assert len(fleet.pis) == MAX_PIS and len(fleet.changed) <= MAX_PIS
    shown = [pi for pi in fleet.snapshot() if not pi.name.startswith("made-up")]
    for as_json in (False, True):
        out = io.StringIO()
        _print(shown, out, as_json)
        text = out.getvalue()
        assert "\x1b" not in text and "\x07" not in text and "NaN" not in text
        if as_json:
            records = {r["name"]: r for r in map(json.loads, text.splitlines())}
            assert records["pi-a"]["label"] == "cat" and records["pi-a"]["fps"] is None
            assert records["pi-d"]["label"] is None and records["pi-d"]["score"] == 0.9
            assert not {"pi-c", "pi-e", "pi-f"} & set(records)  # nested past Python's limit, NaN, 1 MB


def test_fleet_names_an_unreachable_broker_in_one_line(capsys):
    require(have_paho(), "paho-mqtt is not installed (pip install -e '.[test]')")
    port = free_port()
    assert cli_main(["fleet", "--host", "127.0.0.1", "--port", str(port), "--once"]) == 2
    assert capsys.readouterr().err == (f"piclassify: error: cannot connect to broker 127.0.0.1:{port}: connection "
                                       "refused (is the broker running, on this port?)\n")


# -- in-process: the sink in a Service with fakes --------------------------------------------

def run_service(tmp_path: Path, mqtt: str, frames: int = 40, frame_s: float = 0.02):
    """A ``Service`` (tests/helpers/service.py's Harness) on a camera of ``frames`` frames; returns the harness."""
    require(have_paho(), "paho-mqtt is not installed (pip install -e '.[test]')")
    from tests.helpers.service import FRAMES, Harness

    tmp_path.mkdir(parents=True, exist_ok=True)
    harness = Harness(tmp_path, [[FRAMES] * frames], f'model = "alpha"\n[mqtt]\n{mqtt}')
    harness.on_classify = lambda frame: time.sleep(frame_s)
    assert harness.run() == 0
    return harness


@pytest.mark.broker
def test_a_reload_reconnects_with_the_new_setup_and_loses_nothing(tmp_path, broker, listen):
    from piclassify.device.core.loop import RELOAD

    from tests.helpers.service import FRAMES, Harness

    listener = listen(broker, ("piclassify/#",))
    mqtt = f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nclient_id = "pi1"'
    harness = Harness(tmp_path, [[FRAMES] * 6], f'model = "alpha"\n{mqtt}')

    def reload_after_frame_2(frame) -> None:
        time.sleep(0.05)
        if frame.index == 2:
            harness.write_config(f'model = "beta"\n{mqtt}')
            harness.service.events.put(RELOAD)

    harness.on_classify = reload_after_frame_2
    assert harness.run() == 0
    assert wait_until(lambda: len(listener.payloads("piclassify/pi1/result")) == 6)
    assert [r["model"] for r in listener.records("piclassify/pi1/result")] == ["alpha"] * 3 + ["beta"] * 3
    assert wait_until(lambda: listener.payloads("piclassify/pi1/availability") == ["online", "offline"] * 2)


@pytest.mark.broker
@pytest.mark.parametrize("broker_lines, words", [
    ('host = "no-such-host.invalid"', "no-such-host.invalid:1883: unknown host"),
    ("host = \"127.0.0.1\"\nport = {free}", "127.0.0.1:{free}: connection refused"),
    ('host = "127.0.0.1"\nport = {free}\nca_file = "{tmp}/bad-ca.pem"',
     "127.0.0.1:{free}: cannot set up TLS with ca_file {tmp}/bad-ca.pem"),
    ('host = "127.0.0.1"\nport = {free}\nusername = "pi1"\npassword_file = "{tmp}/missing"',
     "127.0.0.1:{free}: cannot read password_file {tmp}/missing: No such file or directory"),
])
def test_an_unusable_broker_is_one_line_naming_it_and_classifying_goes_on(tmp_path, caplog, broker_lines, words):
    free = free_port()
    (tmp_path / "bad-ca.pem").write_text("not a certificate\n")
    broker_lines, words = (text.format(free=free, tmp=tmp_path) for text in (broker_lines, words))
    harness = run_service(tmp_path, broker_lines, frames=60)
    assert len(harness.results()) == 60, "the results log has every result"
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert len(errors) == 1 and words in errors[0], errors
    assert harness.service.loop is not None
    status = harness.service.loop.status_text()
    assert "failing: mqtt (" in status and words.split(": ", 1)[0] in status, status


@pytest.mark.broker
def test_tls_with_the_brokers_ca_and_a_wrong_ca(tmp_path, listen, caplog):
    openssl = shutil.which("openssl")
    require(openssl, "openssl is not installed")
    files = make_certificates(Path(openssl), tmp_path / "tls")
    secure = Mosquitto(tmp_path / "tls-broker", "allow_anonymous true", tls=files)
    try:
        listener = listen(secure.address(tls=True, ca_file=files["ca"]), ("piclassify/#",))
        harness = run_service(tmp_path / "good", f'host = "127.0.0.1"\nport = {secure.port}\nclient_id = "pi1"\n'
                                                 f'ca_file = "{files["ca"]}"', frames=30)
        assert wait_until(lambda: listener.records("piclassify/pi1/result") == harness.results())

        caplog.clear()
        harness = run_service(tmp_path / "bad", f'host = "127.0.0.1"\nport = {secure.port}\nclient_id = "pi2"\n'
                                                f'ca_file = "{files["other_ca"]}"', frames=30)
        assert len(harness.results()) == 30
        errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
        assert len(errors) == 1 and f"127.0.0.1:{secure.port}: TLS: the broker's certificate is not accepted" \
            in errors[0], errors
    finally:
        secure.stop()


def make_certificates(openssl: Path, folder: Path) -> dict[str, Path]:
    """A CA, a server certificate it signed for 127.0.0.1, and an unrelated CA (EC keys: quick to make)."""
    folder.mkdir()
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([str(openssl), *args], check=True, capture_output=True, cwd=folder)

    for name in ("ca", "other_ca"):
        run("req", "-x509", *key, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj",
            f"/CN=piclassify test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                                       "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key",
            "other_ca": folder / "other_ca.pem"}


def test_nothing_in_view_is_published_only_when_it_starts_and_handle_never_waits(broker, listen):
    """The sink alone: an empty desk is one message, not one per frame; a full queue drops the oldest."""
    from piclassify.device.sinks.mqtt.sink import MqttSink

    listener = listen(broker, ("piclassify/solo/result",))
    config = MqttConfig(host="127.0.0.1", port=broker.port, client_id="solo", homeassistant=False)
    sink = MqttSink(config, model=_Model(), events=__import__("queue").SimpleQueue())
    try:
        sequence = [("7", True), (None, True), (None, False), (None, False), ("7", True), ("7", False)]
        for index, (label, changed) in enumerate(sequence):
            sink.handle(Delivery(make_result(label, frame=index), make_frame(index), changed=changed))
        assert wait_until(lambda: len(listener.payloads("piclassify/solo/result")) == 4)
        assert [r["frame"] for r in listener.records("piclassify/solo/result")] == [0, 1, 4, 5]
        assert wait_until(lambda: sink.published == 4)
    finally:
        sink.close()


def _cut_the_socket(client: Any) -> None:
    client.socket().shutdown(socket.SHUT_RDWR)  # paho's next send fails, as when the network drops


def _raise_a_surprise(client: Any) -> None:
    raise RuntimeError("a paho surprise")


@pytest.mark.broker
@pytest.mark.parametrize("fault, qos", [(_cut_the_socket, 0), (_cut_the_socket, 1), (_raise_a_surprise, 1)])
def test_a_fault_while_a_result_goes_out_loses_nothing_and_publishing_goes_on(broker, listen, caplog, fault, qos):
    """Frame 3's publish meets a dead socket (paho resends QoS 1 itself, the sink resends QoS 0) or an
    error nobody expected (the sink reconnects, as after a lost connection, and logs the traceback once).

    The dead socket is how CI once lost the MQTT thread for good: paho marks such a message failed
    (``is_published()`` raises) even after it has sent it again and the broker has acknowledged it.
    """
    from piclassify.device.sinks.mqtt.client import new_client
    from piclassify.device.sinks.mqtt.sink import MqttSink

    faults: list[int] = []

    def faulty_client(*args: Any) -> Any:
        client = new_client(*args)
        publish = client.publish

        def publish_with_a_fault(topic: str, payload: str, qos: int, retain: bool = False) -> Any:
            if topic.endswith("/result") and json.loads(payload)["frame"] == 3 and not faults:
                faults.append(3)
                fault(client)
            return publish(topic, payload, qos, retain=retain)

        client.publish = publish_with_a_fault
        return client

    caplog.set_level("INFO", "piclassify.device.sinks.mqtt.sink")
    listener = listen(broker, ("piclassify/cut/result",))
    config = MqttConfig(host="127.0.0.1", port=broker.port, client_id="cut", homeassistant=False, qos=qos)
    sink = MqttSink(config, model=_Model(), events=__import__("queue").SimpleQueue(), client_factory=faulty_client)
    try:
        assert wait_until(lambda: sink.connected)
        for index in range(8):
            sink.handle(Delivery(make_result("7", frame=index), make_frame(index)))
            time.sleep(0.02)
        assert wait_until(lambda: sink.published == 8, 10), caplog.text
        assert faults == [3], "the fault came once, under frame 3's publish"
        assert wait_until(lambda: frames_of(listener.records("piclassify/cut/result")) == set(range(8)))
        assert "connected again; nothing was lost" in caplog.text
        sink.handle(Delivery(make_result("7", frame=8), make_frame(8)))
        assert wait_until(lambda: sink.published == 9), caplog.text
    finally:
        sink.close()
    errors = [record for record in caplog.records if record.levelname == "ERROR"]
    assert len(errors) == 1, caplog.text
    if fault is _raise_a_surprise:
        assert "unexpected error RuntimeError('a paho surprise'); retrying in 1s" in errors[0].getMessage()
        assert errors[0].exc_info, "with its traceback, for a bug report"
    else:
        assert "connection lost; retrying in 1s" in errors[0].getMessage() and not errors[0].exc_info


@pytest.mark.broker
def test_while_the_broker_is_away_the_queue_keeps_the_newest_and_status_says_so(tmp_path, caplog):
    require(have_paho(), "paho-mqtt is not installed (pip install -e '.[test]')")
    from piclassify.device.sinks.mqtt.sink import MqttSink

    port = free_port()
    config = MqttConfig(host="127.0.0.1", port=port, client_id="away", queue_size=5)
    sink = MqttSink(config, model=_Model(), events=__import__("queue").SimpleQueue())
    try:
        assert wait_until(lambda: sink.faults() != [])
        started = time.perf_counter()
        for index in range(12):
            sink.handle(Delivery(make_result("7", frame=index), make_frame(index)))
        assert time.perf_counter() - started < 0.05, "handle only enqueues"
        assert (sink.queued, sink.dropped) == (5, 7)
        assert [r.frame for r in sink._queue] == [7, 8, 9, 10, 11]
        assert Sinks([sink]).faults() == [f"mqtt (broker 127.0.0.1:{port}: connection refused (is the broker "
                                          f"running, on this port?); 5 queued, 7 dropped)"]
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1 and "dropping the oldest" in warnings[0]
    finally:
        sink.close()
    assert "stopped with 5 results not delivered (7 dropped in all)" in caplog.text


class _Model:
    name, labels = "digits", ("7", "other")


def test_the_trigger_topic_puts_capture_on_the_loops_queue_but_a_retained_message_does_not(broker, listen):
    from piclassify.device.sinks.mqtt.sink import MqttSink

    events = __import__("queue").SimpleQueue()
    config = MqttConfig(host="127.0.0.1", port=broker.port, client_id="trig")
    sink = MqttSink(config, model=_Model(), events=events, trigger=True)
    try:
        listener = listen(broker, ("piclassify/trig/availability",))
        assert wait_until(lambda: listener.payloads("piclassify/trig/availability") == ["online"])
        listener.publish("piclassify/trig/trigger", "PRESS")
        assert events.get(timeout=5) == CAPTURE
    finally:
        sink.close()
    assert events.empty()


# -- config and compatibility -----------------------------------------------------------------

def config_error(text: str) -> str:
    from piclassify.device.config import tomllib  # tomli on Python 3.9 and 3.10

    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text))
    return str(caught.value)


def test_the_mqtt_section_checks_its_keys():
    assert parse_config({}).mqtt == MqttConfig() and MqttConfig().host is None  # off unless a host is set
    assert "unknown key 'mqtt.hots'" in config_error("[mqtt]\nhots = 'x'")
    assert "mqtt.qos must be an integer from 0 to 2" in config_error("[mqtt]\nhost = 'b'\nqos = 3")
    assert "mqtt.topic_prefix must be a topic" in config_error("[mqtt]\nhost = 'b'\ntopic_prefix = 'a/#'")
    assert "mqtt.client_id must be" in config_error("[mqtt]\nclient_id = 'a/b'")
    assert "mqtt.password_file needs mqtt.username" in config_error("[mqtt]\nhost = 'b'\npassword_file = 'p'")
    assert "mqtt.cert_file needs TLS" in config_error("[mqtt]\nhost = 'b'\ncert_file = 'c'")
    assert "button.pin is required" in config_error("mode = 'trigger'")
    config = parse_config({"mode": "trigger", "mqtt": {"host": "broker", "client_id": "kitchen"}}).mqtt
    assert (config.prefix(), config.broker()) == ("piclassify/kitchen", "broker:1883")
    assert MqttConfig(host="b", ca_file=Path("ca.pem")).broker() == "b:8883"
    assert MqttConfig().name() == MqttConfig().prefix().split("/")[1] != ""  # the host name by default


def test_connack_refusals_read_the_same_from_paho_1_and_2():
    require(have_paho(), "paho-mqtt is not installed (pip install -e '.[test]')")
    from piclassify.device.sinks.mqtt.client import refusal

    assert refusal(0) is None  # paho 1.x hands integers; 2.x ReasonCodes (below)
    assert refusal(5) == "refused: not authorized (check username and password_file)"
    assert refusal(4) == "refused: bad user name or password (check username and password_file)"
    try:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.reasoncodes import ReasonCode
    except ImportError:
        return
    assert refusal(ReasonCode(PacketTypes.CONNACK, "Success")) is None
    assert refusal(ReasonCode(PacketTypes.CONNACK, "Not authorized")) == \
        "refused: not authorized (check username and password_file)"


def test_without_paho_a_configured_broker_stops_the_service_with_how_to_install(tmp_path, monkeypatch):
    import builtins

    from piclassify.device.sinks.mqtt.client import MqttUnavailable
    from piclassify.device.sinks.mqtt.sink import MqttSink

    real_import = builtins.__import__

    def no_paho(name, *args, **kwargs):
        if name.startswith("paho"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_paho)
    with pytest.raises(MqttUnavailable, match=r"pip install 'piclassify\[mqtt\]'"):
        MqttSink(MqttConfig(host="b"), model=_Model(), events=None)  # type: ignore[arg-type]
