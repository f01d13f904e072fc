"""Pure: a consistent-hash ring, so that a member's death moves only the keys it held."""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar, final

__all__ = ["HashRing", "stable_hash"]

M = TypeVar("M")


def stable_hash(key: Hashable) -> int:
    """A 64-bit hash of ``key`` that is the same in every process (unlike ``hash``).

    Strings and bytes hash by their content, integers by their decimal form, anything else
    by its ``repr``.
    """
    if isinstance(key, bytes):
        data = key
    elif isinstance(key, str):
        data = key.encode()
    elif isinstance(key, int):
        data = str(key).encode()
    else:
        data = repr(key).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


@final
class HashRing(Generic[M]):
    """Members placed ``replicas`` times each on a ring of 64-bit hashes.

    A key goes to the first member clockwise from its hash that ``alive`` accepts, so when a
    member is skipped only its keys move (to their next member), and they come back when it
    does.

    Example::

        >>> ring = HashRing(["a", "b", "c"], identity=str)
        >>> owner = ring.pick("user-42", alive=lambda m: True)
        >>> ring.pick("user-42", alive=lambda m: m != owner) != owner
        True
    """

    __slots__ = ("_members", "_owners", "_points")

    def __init__(
        self, members: Sequence[M], identity: Callable[[M], str], replicas: int = 64
    ) -> None:
        placed = sorted(
            (stable_hash(f"{identity(member)}#{n}"), index)
            for index, member in enumerate(members)
            for n in range(replicas)
        )
        self._members = list(members)
        self._points = [point for point, _ in placed]
        self._owners = [index for _, index in placed]

    def pick(self, key: Hashable, alive: Callable[[M], bool]) -> M | None:
        """The member for ``key``: the first alive one clockwise; ``None`` if none is."""
        if not self._points:
            return None
        start = bisect_left(self._points, stable_hash(key))
        tried: set[int] = set()
        count = len(self._points)
        for step in range(count):
            index = self._owners[(start + step) % count]
            if index in tried:
                continue
            member = self._members[index]
            if alive(member):
                return member
            tried.add(index)
            if len(tried) == len(self._members):
                break
        return None
