"""The server side of a reload: ``config_change`` runs inside the server's own task.

No kernel change: the change arrives as an ordinary call, and :class:`ConfigAware` routes
that call to ``config_change`` before the server's own ``handle_call`` sees it, so it is
serialised with every other callback of the server.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, final

import attrs

from otp import Caller, GenServer

from ._holder import ConfigChange

__all__ = ["ConfigAware", "ConfigChangeRequest"]

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")


@final
@attrs.frozen
class ConfigChangeRequest:
    """The call a :class:`otp.config.Config` makes to a registered server."""

    change: ConfigChange
    ACK: ClassVar[object] = object()


def _routed(handle_call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(handle_call)
    async def route(self: ConfigAware[Any, Any], request: object, caller: Caller[Any]) -> Any:  # noqa: ANN401
        if type(request) is ConfigChangeRequest:
            return await self._otp_config_change(request)
        return await handle_call(self, request, caller)

    route._otp_config_routed = True  # type: ignore[attr-defined]
    return route


class ConfigAware(GenServer[RequestT, ReplyT], Generic[RequestT, ReplyT]):
    """A :class:`otp.GenServer` that hears configuration changes in ``config_change``.

    Register it with :meth:`Config.register`; each reload that touches its keys calls
    ``config_change(changed, new, removed)`` inside the server's task, between its other
    messages. Raising there crashes the server like any callback (its supervisor restarts it,
    and its ``init`` reads the new value).

    Example::

        class Pool(otp.config.ConfigAware[str, int]):
            async def init(self, config):
                self.size = config.value.db.pool_size
                config.register(self.ref, section="db")

            async def config_change(self, changed, new, removed):
                self.size = changed.get("db.pool_size", self.size)
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("handle_call")
        if own is not None and not getattr(own, "_otp_config_routed", False):
            cls.handle_call = _routed(own)  # type: ignore[method-assign, assignment]

    async def config_change(
        self, changed: Mapping[str, Any], new: Mapping[str, Any], removed: Sequence[str]
    ) -> None:
        """Apply a change: keys are dotted (``"db.pool_size"``); by default, nothing."""

    async def handle_call(self, request: RequestT, caller: Caller[ReplyT]) -> ReplyT:
        """Route a configuration change; any other call goes to the base class."""
        if isinstance(request, ConfigChangeRequest):
            reply: Any = await self._otp_config_change(request)
            return reply  # type: ignore[no-any-return]
        return await super().handle_call(request, caller)

    async def _otp_config_change(self, request: ConfigChangeRequest) -> object:
        change = request.change
        await self.config_change(change.changed, change.new, change.removed)
        return ConfigChangeRequest.ACK
