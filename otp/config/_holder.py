"""A live configuration: the current value, reload (SIGHUP or a file change), subscribers.

A reload loads every layer again and validates before anything changes: a bad file leaves
the old value in place and is reported. A good one replaces the value (waking subscribers of
:attr:`Config.value_holder`) and is delivered to the registered servers as a
``config_change`` call, each inside its own task.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, final

import attrs
import trio
from trio_util import AsyncValue

from otp import CallError, ServerRef

from ._errors import ConfigError
from ._loader import DEFAULT_ENV_PREFIX, Loaded, Sources, load
from ._origin import Origin
from ._schema import fields_of

__all__ = ["Config", "ConfigChange", "ConfigDelivery", "ConfigReloadFailed", "ConfigReloaded"]

logger = logging.getLogger("otp.config")
T = TypeVar("T")


@final
@attrs.frozen
class ConfigChange:
    """What changed, as dotted keys (Erlang's ``config_change(Changed, New, Removed)``).

    Example::

        >>> otp.config.ConfigChange({"db.pool_size": 10}, {}, ()).keys()
        ['db.pool_size']
    """

    changed: Mapping[str, Any]
    new: Mapping[str, Any]
    removed: Sequence[str]

    def keys(self) -> list[str]:
        """Every key this change touches, sorted."""
        return sorted([*self.changed, *self.new, *self.removed])

    def within(self, section: str | None) -> ConfigChange:
        """Only the keys at or under ``section`` (all of them for ``None``)."""
        if section is None:
            return self

        def inside(key: str) -> bool:
            return key == section or key.startswith(f"{section}.")

        return ConfigChange(
            {k: v for k, v in self.changed.items() if inside(k)},
            {k: v for k, v in self.new.items() if inside(k)},
            tuple(k for k in self.removed if inside(k)),
        )

    def __bool__(self) -> bool:
        return bool(self.changed or self.new or self.removed)


def flatten(value: object) -> dict[str, Any]:
    """A configuration's leaves by dotted key (sections and maps are walked into)."""
    out: dict[str, Any] = {}

    def walk(item: object, prefix: str) -> None:
        if attrs.has(type(item)):
            for name in fields_of(type(item)):  # type: ignore[arg-type]
                walk(getattr(item, name), f"{prefix}{name}.")
        elif isinstance(item, Mapping) and item and all(isinstance(k, str) for k in item):
            for key, sub in item.items():
                walk(sub, f"{prefix}{key}.")
        else:
            out[prefix.removesuffix(".")] = item

    walk(value, "")
    return out


def diff_configs(old: object, new: object) -> ConfigChange:
    """The change from ``old`` to ``new``, key by key.

    Example::

        change = otp.config.diff_configs(before, after)
        print(change.changed)   # {'db.pool_size': 10}
    """
    before, after = flatten(old), flatten(new)
    return ConfigChange(
        {k: v for k, v in after.items() if k in before and before[k] != v},
        {k: v for k, v in after.items() if k not in before},
        tuple(k for k in before if k not in after),
    )


@final
@attrs.frozen
class ConfigDelivery:
    """How one registered server took a change: ``error`` is ``None`` if it applied it.

    Example::

        failed = [d.server for d in result.deliveries if d.error is not None]
    """

    server: ServerRef[Any, Any]
    error: BaseException | None = None


@final
@attrs.frozen
class ConfigReloaded:
    """A reload that validated and replaced the value (``change`` may be empty).

    Example::

        config = otp.config.Config(Settings, sink=events.append)
    """

    trigger: str
    change: ConfigChange
    deliveries: tuple[ConfigDelivery, ...]
    time: float


@final
@attrs.frozen
class ConfigReloadFailed:
    """A reload whose new configuration was invalid: nothing changed.

    Example::

        result = await config.reload()
        if isinstance(result, otp.config.ConfigReloadFailed):
            print(result.error)
    """

    trigger: str
    error: ConfigError
    time: float


ConfigEvent = ConfigReloaded | ConfigReloadFailed
Sink = Callable[[Any], None]


@attrs.define
class _Registration:
    ref: ServerRef[Any, Any]
    section: str | None


class Config(Generic[T]):
    """A live configuration: load it once, then reload it on SIGHUP or when its file changes.

    The first load happens in the constructor and raises :class:`ConfigError`; later reloads
    never raise, they report (to ``sink`` and the ``otp.config`` logger) and return the event.

    Example::

        config = otp.config.Config(Settings, file="app.toml", env_prefix="SHOP_")
        print(config.value.db.pool_size)
        await config.reload()                     # what the app runner calls on SIGHUP
        async with trio.open_nursery() as nursery:
            nursery.start_soon(config.watch_file)  # polls the file every second
    """

    def __init__(
        self,
        schema: type[T],
        *,
        file: str | os.PathLike[str] | None = None,
        env_prefix: str | None = DEFAULT_ENV_PREFIX,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        sink: Sink | None = None,
        delivery_timeout: float = 5.0,
    ) -> None:
        self._schema = schema
        self._sources = Sources(file, env_prefix, environ, overrides)
        self._sink = sink
        self._delivery_timeout = delivery_timeout
        self._loaded: Loaded[T] = load(schema, self._sources)
        self._value = AsyncValue(self._loaded.value)
        self._lock = trio.Lock()
        self._servers: list[_Registration] = []

    @property
    def value(self) -> T:
        """The current configuration."""
        current: T = self._value.value
        return current

    @property
    def value_holder(self) -> AsyncValue:
        """The trio-util ``AsyncValue`` holding the value: wait on it or iterate its changes.

        Example::

            async for settings in config.value_holder.eventual_values():
                resize(settings.db.pool_size)
        """
        return self._value

    def origin(self, key: str) -> Origin:
        """Which layer set ``key`` (a dotted key such as ``"db.pool_size"``).

        Raises:
            KeyError: No such key in the current value.
        """
        return self._loaded.origins[key] if key in self._loaded.origins else _missing(key)

    def register(self, ref: ServerRef[Any, Any], *, section: str | None = None) -> None:
        """Deliver future changes (under ``section``, if given) to the server ``ref``.

        The server must mix in :class:`otp.config.ConfigAware`. A ref to a server that has
        ended is forgotten; a named ref (:func:`otp.named`) follows restarts.

        Example::

            async def init(self, config):
                config.register(self.ref, section="db")
        """
        self._servers = [reg for reg in self._servers if reg.ref.exit_reason is None]
        self._servers.append(_Registration(ref, section))

    async def reload(self, *, trigger: str = "reload") -> ConfigReloaded | ConfigReloadFailed:
        """Load every layer again; apply it only if it is valid. Never raises a ConfigError.

        Example::

            result = await config.reload(trigger="SIGHUP")
        """
        async with self._lock:
            try:
                loaded = load(self._schema, self._sources)
            except ConfigError as error:
                failed = ConfigReloadFailed(trigger, error, trigger_time())
                logger.warning("configuration reload (%s) rejected: %s", trigger, error)
                self._emit(failed)
                return failed
            old = self._loaded.value
            self._loaded = loaded
            change = diff_configs(old, loaded.value)
            deliveries: tuple[ConfigDelivery, ...] = ()
            if change:
                self._value.value = loaded.value
                deliveries = await self._deliver(change)
            done = ConfigReloaded(trigger, change, deliveries, trigger_time())
            logger.info("configuration reloaded (%s): %s", trigger, change.keys())
            self._emit(done)
            return done

    async def watch_file(
        self,
        interval: float = 1.0,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Poll the file's size and mtime every ``interval`` s; reload when its content changed.

        Start-able (use it as a child). Polling uses ``trio.sleep``, so it runs on virtual
        time; a rewrite that keeps the content is not a change.
        """
        file = self._sources.file
        if file is None:
            msg = "this configuration has no file to watch"
            raise ValueError(msg)
        seen = _signature(file)
        task_status.started()
        while True:
            await trio.sleep(interval)
            now = _signature(file)
            if now == seen:
                continue
            seen = now
            digest = _digest(file)
            if digest is None or digest != self._loaded.file_digest:
                await self.reload(trigger="file")

    async def _deliver(self, change: ConfigChange) -> tuple[ConfigDelivery, ...]:
        from ._aware import ConfigChangeRequest  # noqa: PLC0415  (one module per job, no cycle)

        self._servers = [reg for reg in self._servers if reg.ref.exit_reason is None]
        results: list[ConfigDelivery] = []

        async def deliver(reg: _Registration, part: ConfigChange) -> None:
            try:
                reply = await reg.ref.call(
                    ConfigChangeRequest(part), timeout=self._delivery_timeout
                )
            except CallError as exc:
                results.append(ConfigDelivery(reg.ref, exc))
                return
            if reply is not ConfigChangeRequest.ACK:
                error = TypeError(f"{reg.ref!r} does not mix in otp.config.ConfigAware")
                results.append(ConfigDelivery(reg.ref, error))
                return
            results.append(ConfigDelivery(reg.ref))

        async with trio.open_nursery() as nursery:
            for reg in self._servers:
                part = change.within(reg.section)
                if part:
                    nursery.start_soon(deliver, reg, part)
        for delivery in results:
            if delivery.error is not None:
                logger.warning("config_change to %r failed: %s", delivery.server, delivery.error)
        return tuple(results)

    def _emit(self, event: ConfigEvent) -> None:
        if self._sink is None:
            return
        try:
            self._sink(event)
        except Exception:
            logger.exception("configuration sink %r failed on %s", self._sink, event)


def trigger_time() -> float:
    return trio.current_time()


def _missing(key: str) -> Origin:
    raise KeyError(key)


def _signature(file: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        stat = os.stat(file)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def _digest(file: str | os.PathLike[str]) -> bytes | None:
    import hashlib  # noqa: PLC0415

    try:
        with open(file, "rb") as handle:
            return hashlib.sha256(handle.read()).digest()
    except OSError:
        return None
