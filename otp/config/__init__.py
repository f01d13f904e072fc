"""Layered configuration for otp applications, with reload, server callbacks and spec upgrades."""

from ._errors import ConfigError as ConfigError
from ._loader import load_config as load_config
from ._origin import Layer as Layer
from ._origin import Origin as Origin

__all__ = ["ConfigError", "Layer", "Origin", "load_config"]
