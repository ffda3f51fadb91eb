"""Where each result goes: console, results log, LEDs and buzzer, saved frames, the web view, MQTT.

Each one is a ``Sink``; ``outputs`` opens every one of them, from the config, for ``run`` and the service alike.
"""
