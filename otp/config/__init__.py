"""Layered configuration for otp applications: load, validate, reload, tell the servers.

Precedence, lowest first: the schema's defaults, a TOML file, environment variables under a
prefix (``OTP_DB__POOL_SIZE`` sets ``db.pool_size``), explicit overrides. A
:class:`Config` reloads on demand (the app runner calls :meth:`Config.reload` on SIGHUP) or
when its file changes, validating first; servers mixing in :class:`ConfigAware` get
``config_change(changed, new, removed)`` inside their own task.
"""

from ._aware import ConfigAware as ConfigAware
from ._errors import ConfigError as ConfigError
from ._holder import Config as Config
from ._holder import ConfigChange as ConfigChange
from ._holder import ConfigDelivery as ConfigDelivery
from ._holder import ConfigReloaded as ConfigReloaded
from ._holder import ConfigReloadFailed as ConfigReloadFailed
from ._holder import diff_configs as diff_configs
from ._loader import load_config as load_config
from ._origin import Layer as Layer
from ._origin import Origin as Origin
from ._upgrade import ChildSpecsApplied as ChildSpecsApplied
from ._upgrade import SpecChange as SpecChange
from ._upgrade import SpecDiff as SpecDiff
from ._upgrade import apply_child_specs as apply_child_specs
from ._upgrade import diff_child_specs as diff_child_specs

__all__ = [
    "ChildSpecsApplied",
    "Config",
    "ConfigAware",
    "ConfigChange",
    "ConfigDelivery",
    "ConfigError",
    "ConfigReloadFailed",
    "ConfigReloaded",
    "Layer",
    "Origin",
    "SpecChange",
    "SpecDiff",
    "apply_child_specs",
    "diff_child_specs",
    "diff_configs",
    "load_config",
]
