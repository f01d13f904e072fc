"""Which events a subscription takes: by type, by source path (with wildcards), by predicate."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import final

from ._errors import EventsError
from ._record import Event

Predicate = Callable[[Event], bool]


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    """A source glob as a regex: ``*`` is one path segment, ``**`` any number of them."""
    segments = glob.split("/")
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            if not last:
                regex += "(?:[^/]+/)*"
            elif regex:
                regex = regex[:-1] + "(?:/[^/]+)*"  # "a/**" takes "a" itself too
            else:
                regex = ".*"
        else:
            regex += "[^/]*".join(re.escape(piece) for piece in segment.split("*"))
            if not last:
                regex += "/"
    return re.compile(regex + r"\Z")


def _check_glob(text: object, what: str) -> str:
    if not isinstance(text, str):
        msg = f"{what} must be a string (got {text!r} of type {type(text).__name__})"
        raise EventsError(msg)
    return text


@final
class EventFilter:
    """A compiled test of events: every given condition must hold.

    Args:
        types: Event types to take; a type ending in ``.*`` takes every type under it
            (``"child.*"``). ``None`` takes every type.
        source: A source path glob: ``*`` matches one path segment, ``**`` any number
            (``"root/workers/*"``, ``"root/**"``). ``None`` takes every source.
        where: A predicate on the event; one that raises counts as not matching (and the
            error is logged by the bus).

    Example::

        >>> f = otp.events.EventFilter(types=["child.*"], source="root/**")
        >>> f.matches(otp.events.Event(1, 0.0, "child.exited", "root/workers/w1"))
        True
    """

    __slots__ = ("_exact", "_prefixes", "_source", "where")

    def __init__(
        self,
        types: Iterable[str] | str | None = None,
        source: str | None = None,
        where: Predicate | None = None,
    ) -> None:
        if isinstance(types, str):
            types = [types]
        self._exact: frozenset[str] | None = None
        self._prefixes: tuple[str, ...] = ()
        if types is not None:
            names = [_check_glob(name, "a subscription's types") for name in types]
            self._exact = frozenset(name for name in names if not name.endswith(".*"))
            self._prefixes = tuple(name[:-1] for name in names if name.endswith(".*"))
        self._source = None if source is None else _pattern(_check_glob(source, "source"))
        predicate: object = where
        if predicate is not None and not callable(predicate):
            msg = f"where must be a callable taking an Event (got {where!r})"
            raise EventsError(msg)
        self.where = where

    def matches(self, event: Event) -> bool:
        """Whether ``event`` passes every condition (the predicate may raise)."""
        exact = self._exact
        if (
            exact is not None
            and event.type not in exact
            and (not self._prefixes or not event.type.startswith(self._prefixes))
        ):
            return False
        if self._source is not None and self._source.match(event.source) is None:
            return False
        return self.where is None or bool(self.where(event))
