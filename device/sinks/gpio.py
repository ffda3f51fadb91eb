"""GPIO for a Pi with no screen: a button to trigger or reload, LEDs and a buzzer to show results.

gpiozero does the pin work (debounce via ``bounce_time``, long press via ``hold_time``); it is
imported only when a pin is configured, so the service runs on a laptop or in CI without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from piclassify.device.config import ButtonConfig, FeedbackConfig, Pin
from piclassify.shared.errors import PiclassifyError

if TYPE_CHECKING:
    from piclassify.device.core.sink import Delivery

class GpioError(PiclassifyError):
    """A configured pin cannot be used: no GPIO on this machine, gpiozero missing, or the pin is taken."""


def _open_device(kind: str, key: str, pin: Pin, **options: Any) -> Any:
    """A gpiozero device, with any failure turned into one line naming the config key and pin."""
    try:
        import gpiozero
    except ImportError as error:
        raise GpioError(f"{key} = {pin!r}: gpiozero is not installed (pip install 'piclassify[pi]')") from error
    try:
        return getattr(gpiozero, kind)(pin, **options)
    except Exception as error:  # gpiozero raises many unrelated types (BadPinFactory, PinInvalidPin, ...)
        raise GpioError(f"{key} = {pin!r}: cannot open {kind}: {error}") from error


class TriggerButton:
    """A short press (released before ``hold_s``) calls ``on_press``; a long press calls ``on_hold``.

    Acting on release is what lets a long press mean something else: a press that becomes a hold
    never also captures a frame.
    """

    def __init__(self, config: ButtonConfig, on_press: Callable[[], None],
                 on_hold: Optional[Callable[[], None]], key: str = "button.pin") -> None:
        self._on_press = on_press
        self._on_hold = on_hold
        self._held = False
        if config.pin is None:
            raise GpioError(f"{key}: no pin to open a button on")
        self.device = _open_device("Button", key, config.pin, pull_up=config.pull_up,
                                   bounce_time=config.bounce_s or None, hold_time=config.hold_s)
        self.device.when_pressed = self._pressed
        self.device.when_held = self._held_down
        self.device.when_released = self._released

    def _pressed(self) -> None:
        self._held = False

    def _held_down(self) -> None:
        self._held = True
        if self._on_hold is not None:
            self._on_hold()

    def _released(self) -> None:
        if not self._held:
            self._on_press()

    def close(self) -> None:
        self.device.close()


class Feedback:
    """Shows each result on the configured LEDs and buzzer; an uncertain result, or nothing in view, lights nothing.

    A sink; its ``name`` is what a failing pin is reported as.
    """

    name = "LEDs and buzzer"

    def __init__(self, config: FeedbackConfig, positive_label: Optional[str]) -> None:
        self.config = config
        self.positive_label = positive_label
        self._devices: list[Any] = []
        try:
            self.blink = self._open("LED", "feedback.blink_pin", config.blink_pin)
            self.positive = self._open("LED", "feedback.positive_pin", config.positive_pin)
            self.buzzer = self._open("Buzzer", "feedback.buzzer_pin", config.buzzer_pin)
            self.label_leds = {label: self._open("LED", f"feedback.label_pins.{label}", pin)
                               for label, pin in config.label_pins.items()}
        except GpioError:
            self.close()
            raise

    def _open(self, kind: str, key: str, pin: Optional[Pin]) -> Any:
        if pin is None:
            return None
        device = _open_device(kind, key, pin)
        self._devices.append(device)
        return device

    def handle(self, delivery: Delivery) -> None:
        result = delivery.result
        shown = result.label is not None and not delivery.uncertain
        for label, led in self.label_leds.items():
            led.value = shown and result.label == label
        if self.positive is not None:
            self.positive.value = shown and result.label == self.positive_label
        if not shown:
            return
        if self.blink is not None:
            self.blink.blink(on_time=self.config.blink_s, off_time=0, n=1, background=True)
        if self.buzzer is not None and (not self.config.buzzer_labels or result.label in self.config.buzzer_labels):
            self.buzzer.beep(on_time=self.config.beep_s, off_time=0, n=1, background=True)

    def close(self) -> None:
        """Turn everything off and release the pins (a reload may reuse them)."""
        for device in self._devices:
            device.close()
        self._devices.clear()
