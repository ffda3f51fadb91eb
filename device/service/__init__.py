"""``piclassify service``: the headless, systemd-managed classifier for a Pi with no screen or keyboard."""
