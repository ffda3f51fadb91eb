"""Where each result goes: console, results log, LEDs and buzzer, saved frames, the web view, MQTT. Each one a ``Sink``."""
