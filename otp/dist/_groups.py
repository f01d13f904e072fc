"""Broadcast results: what each member of a group answered, failed or left unanswered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

import attrs

from ._errors import PartialBroadcast, RemoteError

__all__ = ["BroadcastResult"]


@final
@attrs.frozen
class BroadcastResult:
    """What each member of a group answered to a broadcast.

    Attributes:
        replies: The replies, by member node name.
        errors: The members whose server failed, with the :class:`RemoteError`.
        missing: The members expected (up, and in the group) that did not answer in time.

    Example::

        result = await node.broadcast("caches", "clear", timeout=1)
        print(sorted(result.replies), result.errors, result.missing)
        result.check()  # raises PartialBroadcast unless every member answered
    """

    group: str
    replies: Mapping[str, Any]
    errors: Mapping[str, RemoteError]
    missing: frozenset[str]

    @property
    def ok(self) -> bool:
        """Whether every expected member answered without an error."""
        return not self.errors and not self.missing

    def check(self) -> BroadcastResult:
        """Return ``self`` if :attr:`ok`, else raise :class:`PartialBroadcast`."""
        if self.ok:
            return self
        parts = [f"{name}: {error.type}" for name, error in sorted(self.errors.items())]
        parts += [f"{name}: no answer" for name in sorted(self.missing)]
        msg = (
            f"broadcast to group {self.group!r}: {len(self.replies)} answered, "
            f"{len(self.errors) + len(self.missing)} did not ({'; '.join(parts)})"
        )
        raise PartialBroadcast(msg, self)
