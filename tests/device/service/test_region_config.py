"""``[[region]]`` in the config and ``--region`` on ``run``: read and checked, every mistake one line (exit 2)."""

from __future__ import annotations

import pytest

from piclassify.device.commands.cli import main
from piclassify.device.config import ConfigError, ServiceConfig, parse_config
from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import RELOAD
from piclassify.device.core.regions import Box, Region
from piclassify.device.core.regions.region import DEFAULT_AGREE

from conftest import REPO
from tests.helpers.service import FRAMES, Harness


def test_regions_are_read_in_order_with_their_own_settings_and_the_configs_min_score():
    config = parse_config({"min_score": 0.6, "region": [
        {"name": "garage-door", "x": 0.55, "y": 0.1, "w": 0.4, "h": 0.6, "model": "garage", "agree": 5,
         "recheck_s": 30, "change": 6.5, "on": "open"},
        {"name": "bins", "x": 0, "y": 0.5, "w": 0.25, "h": 0.5, "min_score": 0.9}]})
    assert config.watched_regions() == (
        Region("garage-door", Box(0.55, 0.1, 0.4, 0.6), "garage", 0.6, 5, 30.0, 6.5, "open"),
        Region("bins", Box(0.0, 0.5, 0.25, 0.5), None, 0.9, DEFAULT_AGREE))


def test_no_region_is_the_whole_frame_as_before():
    assert parse_config({}).regions == () and ServiceConfig().watched_regions() == ()


@pytest.mark.parametrize("regions, expected", [
    ({"name": "a"}, "region[1] needs x, y, w, h"),
    ({"name": "a", "x": 0.7, "y": 0, "w": 0.5, "h": 1}, "region a: the box must lie inside the frame"),
    ({"name": "a", "x": 0, "y": 0, "w": 0, "h": 1}, "w and h above 0"),
    ({"name": "a b", "x": 0, "y": 0, "w": 1, "h": 1}, "region[1].name must be 1 to 32 letters"),
    ({"name": "a", "x": 0, "y": 0, "w": 1, "h": 1, "agree": 0}, "region[1].agree must be an integer from 1"),
    ({"name": "a", "x": 0, "y": 0, "w": 1, "h": 1, "size": 3}, "unknown key 'region[1].size'"),
])
def test_a_bad_region_is_one_line_naming_it(regions, expected):
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")) as caught:
        parse_config({"region": [regions]})
    assert "\n" not in str(caught.value)


def test_two_regions_of_one_name_or_a_region_that_is_not_a_table_are_refused():
    same = {"name": "a", "x": 0, "y": 0, "w": 1, "h": 1}
    with pytest.raises(ConfigError, match="two regions are named 'a'"):
        parse_config({"region": [same, same]})
    with pytest.raises(ConfigError, match=r"array of tables \(\[\[region\]\]\)"):
        parse_config({"region": {"name": "a"}})


@pytest.mark.parametrize("flag, expected", [
    ("0.1,0.1,0.2", "expected four fractions"), ("0.5,0.5,0.6,0.1", "inside the frame"),
    ("a b=0,0,1,1", "a name is 1-32 letters"), ("x,y,w,h", "expected four fractions")])
def test_a_bad_region_flag_is_one_line_and_exit_2(flag, expected, capsys):
    assert main(["run", "--model", "digits", "--source", str(REPO / "device" / "samples"), "--region", flag]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0]


def test_run_with_a_region_names_it_in_each_result(capsys):
    samples = REPO / "device" / "samples" / "digits-*.jpg"
    assert main(["run", "--model", "digits", "--source", str(samples), "--region", "door=0,0,1,1", "--agree", "1",
                 "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all('"region":"door"' in line for line in lines)


REGIONS = '''
[[region]]
name = "left"
x = 0
y = 0
w = 0.5
h = 1
agree = 2
[[region]]
name = "right"
x = 0.5
y = 0
w = 0.5
h = 1
model = "beta"
agree = 2
[[region]]
name = "top"
x = 0
y = 0
w = 1
h = 0.5
model = "beta"
agree = 1
'''


def test_the_service_watches_each_region_with_its_model_loaded_once_and_logs_its_steady_state(tmp_path):
    harness = Harness(tmp_path, [[FRAMES] * 6], 'model = "alpha"' + REGIONS)
    assert harness.run() == 0
    assert harness.service.loop is not None and harness.service.loop.regions is not None
    left, right, top = (watch.pipeline for watch in harness.service.loop.regions.watches)
    assert left is harness.service.loop.pipeline and right is top  # two regions name beta: one model for both
    # A still camera: each region answers until its state is steady, then rests until recheck_s (60 s).
    assert [(r["region"], r["model"], r["frame"]) for r in harness.results()] == [
        ("top", "beta", 0), ("left", "alpha", 1), ("right", "beta", 1)]


def test_a_reload_with_a_region_whose_model_is_missing_keeps_the_running_setup(tmp_path, caplog):
    harness = Harness(tmp_path, [[FRAMES] * 4], 'model = "alpha"' + REGIONS)

    def break_a_region(frame: Frame) -> None:
        if frame.index == 1:
            harness.write_config('model = "alpha"' + REGIONS.replace('model = "beta"\nagree = 1', 'model = "missing"'))
            harness.service.events.put(RELOAD)

    harness.on_classify = break_a_region
    assert harness.run() == 0
    assert "reload failed, keeping the running configuration: missing: no such model file" in caplog.text
    assert {r["region"] for r in harness.results()} == {"top", "left", "right"}
