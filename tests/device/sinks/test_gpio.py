"""The button and the LEDs/buzzer, on gpiozero's mock pins (the Pi's pins without a Pi)."""

from __future__ import annotations

import sys
import threading
from typing import Optional

import pytest

from piclassify.device.config import ButtonConfig, FeedbackConfig
from piclassify.device.core.sink import Delivery
from piclassify.device.sinks.gpio import Feedback, GpioError, TriggerButton

from conftest import make_frame, make_result, wait_until

gpiozero = pytest.importorskip("gpiozero")


@pytest.fixture
def pins(mock_pins):
    return mock_pins


def show(leds: Feedback, label: Optional[str], uncertain: bool = False) -> None:
    leds.handle(Delivery(make_result(label, 0.9), make_frame(), uncertain))


class Presses:
    def __init__(self) -> None:
        self.presses = 0
        self.held = threading.Event()

    def press(self) -> None:
        self.presses += 1

    def hold(self) -> None:
        self.held.set()


def button(presses: Presses, **options) -> TriggerButton:
    """GPIO17; a hold takes 30 s unless a test sets ``hold_s``, so a slow machine never turns a press into a hold."""
    return TriggerButton(ButtonConfig(pin=17, **{"hold_s": 30.0, **options}), presses.press, presses.hold)


def test_a_short_press_captures_once_on_release(pins):
    presses = Presses()
    trigger = button(presses)
    pins(17).drive_low()
    assert presses.presses == 0
    pins(17).drive_high()
    assert presses.presses == 1
    trigger.close()


def test_a_pull_down_button_is_pressed_by_driving_high(pins):
    presses = Presses()
    trigger = button(presses, pull_up=False)
    pins(17).drive_high()
    pins(17).drive_low()
    assert presses.presses == 1
    trigger.close()


def test_a_long_press_holds_and_does_not_capture(pins):
    presses = Presses()
    trigger = button(presses, hold_s=0.5)
    pins(17).drive_low()
    assert presses.held.wait(5)
    pins(17).drive_high()
    assert presses.presses == 0
    pins(17).drive_low()
    pins(17).drive_high()
    assert presses.presses == 1, "a short press after a hold captures again"
    trigger.close()


def test_a_long_press_set_to_nothing_does_nothing(pins):
    presses = Presses()
    trigger = TriggerButton(ButtonConfig(pin=17, hold_s=0.1), presses.press, None)
    pins(17).drive_low()
    assert wait_until(lambda: trigger.device.is_held)
    pins(17).drive_high()
    assert presses.presses == 0 and not presses.held.is_set()
    trigger.close()


def test_bounce_s_is_handed_to_gpiozero_as_the_pin_bounce_time(pins):
    # Filtering bounce is the pin driver's job (MockPin does not emulate it): check it is asked for.
    presses = Presses()
    trigger = button(presses, bounce_s=0.05)
    assert pins(17).bounce == 0.05
    trigger.close()
    trigger = button(presses, bounce_s=0)
    assert pins(17).bounce is None
    trigger.close()


def feedback(**options) -> Feedback:
    return Feedback(FeedbackConfig(**options), positive_label=None)


def test_label_leds_show_the_latest_confident_label(pins):
    leds = feedback(label_pins={"cat": 5, "dog": 6})
    show(leds, "cat")
    assert (pins(5).state, pins(6).state) == (True, False)
    show(leds, "dog")
    assert (pins(5).state, pins(6).state) == (False, True)
    show(leds, "cat", uncertain=True)
    assert (pins(5).state, pins(6).state) == (False, False)
    show(leds, "dog")
    show(leds, None)  # nothing in view
    assert (pins(5).state, pins(6).state) == (False, False)
    leds.close()


def test_the_positive_led_follows_the_positive_label(pins):
    leds = Feedback(FeedbackConfig(positive_pin=22), positive_label="dog")
    show(leds, "dog")
    assert pins(22).state
    show(leds, "cat")
    assert not pins(22).state
    leds.close()


def test_the_blink_led_blinks_once_per_result(pins):
    leds = feedback(blink_pin=27, blink_s=0.01)
    pins(27).clear_states()
    show(leds, "7")
    assert wait_until(lambda: len(pins(27).states) == 3)
    assert [state.state for state in pins(27).states] == [False, True, False]
    leds.close()


def test_the_buzzer_beeps_only_for_its_labels(pins):
    leds = feedback(buzzer_pin=23, buzzer_labels=("dog",), beep_s=0.01)
    pins(23).clear_states()
    show(leds, "cat")
    assert not wait_until(lambda: len(pins(23).states) > 1, timeout=0.2), "beeped for cat"
    show(leds, "dog")
    assert wait_until(lambda: len(pins(23).states) == 3)
    assert [state.state for state in pins(23).states] == [False, True, False]
    leds.close()


def test_closing_releases_the_pins_for_a_reload(pins):
    feedback(label_pins={"cat": 5}).close()
    leds = feedback(label_pins={"cat": 5})
    leds.close()


def test_a_pin_that_cannot_be_opened_is_one_line_naming_the_key(pins):
    taken = gpiozero.LED(5)
    with pytest.raises(GpioError, match=r"^feedback.label_pins.dog = 5: cannot open LED: "):
        feedback(label_pins={"cat": 6, "dog": 5})
    taken.close()
    feedback(label_pins={"cat": 6}).close()  # the partly opened set was released


def test_without_gpiozero_a_configured_pin_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiozero", None)
    with pytest.raises(GpioError, match=r"button.pin = 17: gpiozero is not installed"):
        TriggerButton(ButtonConfig(pin=17), lambda: None, None)
