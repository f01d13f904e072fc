"""Hooks that want only some kinds of events, so that the rest are never built for them.

A supervisor builds an event record only when its logger is enabled for the event's level or
some hook wants it. A plain callable wants every event; a :class:`FilteredHook` names the
event types it wants (subclasses included). A crash loop then pays only for the records its
hooks read: ``otp.metrics`` counts restarts from :class:`otp.ChildExited` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, final

import attrs

from ._exceptions import ChildSpecError
from ._spec import _got

__all__ = ["FilteredHook", "hooks_wanting"]


def _to_types(value: object) -> tuple[type, ...]:
    if isinstance(value, type):
        return (value,)
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        msg = f"FilteredHook: events must be event classes (got {_got(value)})"
        raise ChildSpecError(msg)
    types = tuple(value)
    for index, kind in enumerate(types):
        if not isinstance(kind, type):
            msg = f"FilteredHook: events[{index}] must be an event class (got {_got(kind)})"
            raise ChildSpecError(msg)
    if not types:
        msg = "FilteredHook: events must name at least one event class (got none)"
        raise ChildSpecError(msg)
    return types


def _check_callable(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not callable(value):
        msg = f"FilteredHook: hook must be a callable taking an event (got {_got(value)})"
        raise ChildSpecError(msg)


@final
@attrs.frozen
class FilteredHook:
    """A hook for supervisors and breakers that is given only the events it names.

    Events of other types are not built for it: with only filtered hooks that skip them, a
    restart loop builds no :class:`otp.ChildStarted` records at all.

    Attributes:
        hook: Called with each wanted event; an exception it raises is logged.
        events: The event classes wanted (their subclasses too); one class or several.

    Example::

        crashes = []
        only_exits = otp.FilteredHook(crashes.append, otp.ChildExited)
        async with otp.open_supervisor(children, hooks=[only_exits]):
            ...
        assert all(isinstance(event, otp.ChildExited) for event in crashes)
    """

    hook: Callable[[Any], object] = attrs.field(validator=_check_callable)
    events: tuple[type, ...] = attrs.field(converter=_to_types)

    def wants(self, event_type: type) -> bool:
        """Whether events of ``event_type`` go to this hook."""
        return issubclass(event_type, self.events)

    def __call__(self, event: object) -> None:
        """Hand ``event`` to the hook if it is one of the wanted types (for direct callers)."""
        if isinstance(event, self.events):
            self.hook(event)


def hooks_wanting(hooks: Iterable[Callable[[Any], object]], event_type: type) -> tuple[Any, ...]:
    """The callables to give an event of ``event_type``: filtered hooks unwrapped."""
    wanted: list[Callable[[Any], object]] = []
    for hook in hooks:
        if isinstance(hook, FilteredHook):
            if hook.wants(event_type):
                wanted.append(hook.hook)
        else:
            wanted.append(hook)
    return tuple(wanted)
