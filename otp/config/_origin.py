"""Where a configuration value came from: its layer, and which file or variable set it."""

from __future__ import annotations

from enum import StrEnum
from typing import final

import attrs

__all__ = ["Layer", "Origin"]


class Layer(StrEnum):
    """The layers of a configuration, lowest precedence first.

    Example::

        assert config.origin("db.pool_size").layer is otp.config.Layer.ENV
    """

    DEFAULT = "default"
    """The schema's own default."""
    FILE = "file"
    """The TOML file."""
    ENV = "env"
    """An environment variable under the prefix."""
    OVERRIDE = "override"
    """An explicit override passed in code."""


@final
@attrs.frozen
class Origin:
    """The layer that set a value, and the file or environment variable, if any.

    ``str(origin)`` is the phrase used in error messages.

    Example::

        >>> str(otp.config.Origin(otp.config.Layer.ENV, "OTP_DB__POOL_SIZE"))
        'from environment variable OTP_DB__POOL_SIZE'
    """

    layer: Layer
    detail: str | None = None
    """The file's path or the variable's name."""

    def __str__(self) -> str:
        if self.layer is Layer.FILE:
            return f"from file {self.detail}"
        if self.layer is Layer.ENV:
            return f"from environment variable {self.detail}"
        if self.layer is Layer.OVERRIDE:
            return "from an override"
        return "the default"


DEFAULT_ORIGIN = Origin(Layer.DEFAULT)
OVERRIDE_ORIGIN = Origin(Layer.OVERRIDE)
