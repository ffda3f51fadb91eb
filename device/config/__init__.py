"""The service's TOML config, declared once: each key's type, default, bounds and help live in its field.

``sections`` declares the keys; ``checks`` checks their values; ``reading`` reads a file into a
``ServiceConfig`` (every mistake a one-line error naming the key); ``example`` writes the example
file ``systemd/piclassify.toml`` (``piclassify service --example-config`` prints it); ``web_access``
holds the web view's access rule. ``piclassify run`` builds a ``ServiceConfig`` from its flags, so
that one module opens every output (``device.sinks.outputs``) for both.
"""

from piclassify.device.config.checks import Pin
from piclassify.device.config.example import example_config
from piclassify.device.config.reading import ConfigError, check_against_model, load_config, parse_config, tomllib
from piclassify.device.config.sections import (
                                               ButtonConfig,
                                               FeedbackConfig,
                                               FramesConfig,
                                               MqttConfig,
                                               RegionConfig,
                                               ResultsConfig,
                                               ServiceConfig,
                                               TeachConfig,
                                               WebConfig,
)
from piclassify.device.config.web_access import is_loopback, needs_token

__all__ = ["ButtonConfig", "ConfigError", "FeedbackConfig", "FramesConfig", "MqttConfig", "Pin", "RegionConfig",
           "ResultsConfig", "ServiceConfig", "TeachConfig", "WebConfig", "check_against_model", "example_config",
           "is_loopback", "load_config", "needs_token", "parse_config", "tomllib"]
