"""The service config: every key has a default, the example documents them, mistakes are one-line errors."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from piclassify.device.commands.cli import main
from piclassify.device.config import (
    ConfigError,
    ServiceConfig,
    check_against_model,
    example_config,
    load_config,
    parse_config,
)

from conftest import REPO

EXAMPLE = REPO / "systemd" / "piclassify.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "piclassify.toml"
    path.write_text(text)
    return path


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "piclassify.toml") + ": ")
    return message


def test_an_empty_file_gives_every_default(tmp_path):
    assert load_config(write(tmp_path, "")) == ServiceConfig()


def test_the_example_config_states_every_default():
    assert load_config(EXAMPLE) == ServiceConfig()


def test_the_example_config_is_made_from_the_declarations(capsys):
    """Each key is declared once, in config.py; systemd/piclassify.toml is its generated documentation."""
    assert EXAMPLE.read_text() == example_config(), "run: piclassify service --example-config > systemd/piclassify.toml"
    assert main(["service", "--example-config"]) == 0
    assert capsys.readouterr().out == example_config()
    arrays = [f.metadata["array"] for f in fields(ServiceConfig) if "array" in f.metadata]  # [[region]]
    for section in (ServiceConfig, *arrays, *(type(getattr(ServiceConfig(), f.name)) for f in fields(ServiceConfig)
                                              if is_dataclass(getattr(ServiceConfig(), f.name)))):
        for key in fields(section):
            if not is_dataclass(getattr(section(), key.name)) and "array" not in key.metadata:
                assert re.search(rf"^(# )?{key.name} = .*# \S", EXAMPLE.read_text(), re.M), f"{key.name} undocumented"


def test_values_are_read_from_every_section(tmp_path):
    config = load_config(write(tmp_path, """
model = "cats-dogs"
source = "usb:0"
size = [320, 240]
mode = "trigger"
interval_s = 5
min_score = 0.6
on_change = true
[button]
pin = "GPIO17"
on_hold = "reload"
[feedback]
positive_pin = 22
label_pins = { cat = 5, dog = 6 }
buzzer_labels = ["dog"]
[results]
path = "/tmp/r.jsonl"
keep = 0
[frames]
save = "uncertain"
"""))
    assert (config.model, config.source, config.size, config.mode) == ("cats-dogs", "usb:0", (320, 240), "trigger")
    assert config.interval_s == 5.0
    assert (config.button.pin, config.button.on_hold) == ("GPIO17", "reload")
    assert config.feedback.label_pins == {"cat": 5, "dog": 6}
    assert config.feedback.buzzer_labels == ("dog",)
    assert (config.results.path, config.results.keep) == (Path("/tmp/r.jsonl"), 0)
    assert (config.min_score, config.on_change, config.frames.save) == (0.6, True, "uncertain")


def test_an_unknown_key_is_named_with_its_section(tmp_path):
    assert config_error(tmp_path, "[feedback]\nled_pn = 5\n").endswith("unknown key 'feedback.led_pn'")
    assert config_error(tmp_path, "modle = 'digits'\n").endswith("unknown key 'modle'")
    assert config_error(tmp_path, "[camera]\nsource = 'usb:0'\n").endswith("unknown key 'camera'")


@pytest.mark.parametrize("text, key", [
    ("mode = 'sometimes'", "mode"),
    ("interval_s = -1", "interval_s"),
    ("interval_s = '5'", "interval_s"),
    ("size = [640]", "size"),
    ("threads = true", "threads"),
    ("log_level = 'verbose'", "log_level"),
    ("model = ''", "model"),
    ("[button]\npin = -3", "button.pin"),
    ("[button]\non_hold = 'shutdown'", "button.on_hold"),
    ("[button]\npull_up = 'yes'", "button.pull_up"),
    ("min_score = 1.5", "min_score"),
    ("min_score = nan", "min_score"),
    ("interval_s = inf", "interval_s"),
    ("interval_s = nan", "interval_s"),
    ("interval_s = 1e9", "interval_s"),
    ("threads = 65", "threads"),
    ("size = [0, 480]", "size"),
    ("on_change = 1", "on_change"),
    ("[button]\nbounce_s = -inf", "button.bounce_s"),
    ("[feedback]\nlabel_pins = { cat = true }", "feedback.label_pins"),
    ("[teach]\nbuttons = { \"../x\" = 17 }", "teach.buttons"),
    ("[teach]\nbuttons = { train = 17 }", "teach.buttons"),
    ("[results]\nkeep = -1", "results.keep"),
    ("[results]\nmax_bytes = 10", "results.max_bytes"),
    ("[results]\nmax_bytes = 1099511627776", "results.max_bytes"),
    ("[frames]\nsave = 'some'", "frames.save"),
    ("[frames]\njpeg_quality = 100", "frames.jpeg_quality"),
])
def test_a_bad_value_is_named_with_what_was_expected(tmp_path, text, key):
    message = config_error(tmp_path, text)
    assert f": {key} must be " in message
    assert ", got " in message


def test_trigger_mode_needs_a_button(tmp_path):
    assert "button.pin is required" in config_error(tmp_path, "mode = 'trigger'")


def test_one_pin_cannot_serve_two_devices(tmp_path):
    message = config_error(tmp_path, "[button]\npin = 17\n[feedback]\nblink_pin = 'GPIO17'\n")
    assert "feedback.blink_pin" in message and "button.pin" in message


def test_a_section_that_is_not_a_table_is_named(tmp_path):
    assert "results must be a table" in config_error(tmp_path, "results = 'x'")


def test_broken_toml_names_the_file_and_line(tmp_path):
    assert "line 2" in config_error(tmp_path, "model = 'digits'\nmode = \n")


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.toml: cannot read config"):
        load_config(tmp_path / "nowhere.toml")


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    (tmp_path / "piclassify.toml").write_bytes(b"model = \"d\xe9git\"\n")
    with pytest.raises(ConfigError, match="piclassify.toml: not valid TOML"):
        load_config(tmp_path / "piclassify.toml")


def test_label_settings_must_name_labels_of_the_model():
    config = parse_config({"feedback": {"label_pins": {"kat": 5}}})
    with pytest.raises(ConfigError, match=r"feedback.label_pins: 'kat' is not a label of model pets \(cat, dog\)"):
        check_against_model(config, "multiclass", ("cat", "dog"), "pets")
    check_against_model(parse_config({"feedback": {"label_pins": {"cat": 5}}}), "multiclass", ("cat", "dog"), "pets")


def test_a_positive_pin_needs_a_binary_model():
    config = parse_config({"feedback": {"positive_pin": 22}})
    with pytest.raises(ConfigError, match="feedback.positive_pin needs a binary model; digits is multiclass"):
        check_against_model(config, "multiclass", tuple("0123456789"), "digits")
    check_against_model(config, "binary", ("cat", "dog"), "cats-dogs")
