"""A JetStream key-value bucket over the core protocol: just what global names need.

A bucket is the stream ``KV_<bucket>`` over ``$KV.<bucket>.>``, keeping one message per
key. Writes are JetStream publishes that expect the key's last sequence, so a create (the
last sequence is 0, or that of a delete marker) and a delete (of the revision read) are
atomic compare-and-set operations: of two nodes racing, exactly one wins.
"""

from __future__ import annotations

import base64
import json
from typing import Any, final

import attrs

from ._client import Connection
from ._errors import DistError, NoResponders

__all__ = ["Entry", "KeyValue", "KeyValueError", "WrongRevision"]

_WRONG_LAST_SEQUENCE = 10071
_NO_MESSAGE = 10037
_EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"


class KeyValueError(DistError):
    """JetStream refused a key-value operation, or is not enabled on the server."""


class WrongRevision(KeyValueError):
    """The key was changed by someone else since it was read (the compare-and-set lost)."""


@final
@attrs.frozen
class Entry:
    """A key's current value and its revision (the stream sequence that wrote it)."""

    key: str
    value: bytes
    revision: int


@final
class KeyValue:
    """One bucket, with atomic ``create`` and ``delete`` (see the module docstring)."""

    def __init__(self, connection: Connection, bucket: str, *, timeout: float = 2.0) -> None:
        self.connection = connection
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self.timeout = timeout

    async def _api(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await self.connection.request(
                subject, json.dumps(body).encode(), timeout=self.timeout
            )
        except NoResponders:
            msg = (
                "JetStream is not enabled on the NATS server (global names need it): "
                "start nats-server with -js, e.g. run_nats_server(jetstream=True)"
            )
            raise KeyValueError(msg) from None
        answer: dict[str, Any] = json.loads(reply.payload)
        return answer

    async def ensure(self) -> None:
        """Create the bucket if it does not exist (in memory: a restarted broker forgets it)."""
        config = {
            "name": self.stream,
            "subjects": [f"$KV.{self.bucket}.>"],
            "max_msgs_per_subject": 1,
            "discard": "new",
            "storage": "memory",
            "num_replicas": 1,
            "allow_rollup_hdrs": True,
            "deny_delete": True,
            "allow_direct": True,
        }
        answer = await self._api(f"$JS.API.STREAM.CREATE.{self.stream}", config)
        error = answer.get("error")
        if error is not None and "already in use" not in str(error.get("description", "")):
            msg = f"cannot create the key-value bucket {self.bucket!r}: {error}"
            raise KeyValueError(msg)

    async def _last(self, key: str) -> tuple[Entry, bool] | None:
        """The key's last message and whether it is a delete marker, or ``None``."""
        answer = await self._api(
            f"$JS.API.STREAM.MSG.GET.{self.stream}", {"last_by_subj": f"$KV.{self.bucket}.{key}"}
        )
        error = answer.get("error")
        if error is not None:
            if error.get("err_code") == _NO_MESSAGE:
                return None
            msg = f"cannot read {key!r} from {self.bucket!r}: {error}"
            raise KeyValueError(msg)
        message = answer["message"]
        headers = base64.b64decode(message.get("hdrs", "") or "")
        value = base64.b64decode(message.get("data", "") or "")
        return Entry(key, value, int(message["seq"])), b"KV-Operation:" in headers  # DEL, PURGE

    async def get(self, key: str) -> Entry | None:
        """The key's entry, or ``None`` if it has none (or was deleted)."""
        last = await self._last(key)
        return None if last is None or last[1] else last[0]

    async def _write(self, key: str, value: bytes, headers: dict[str, str]) -> int:
        try:
            reply = await self.connection.request(
                f"$KV.{self.bucket}.{key}", value, headers=headers, timeout=self.timeout
            )
        except NoResponders:
            msg = f"the key-value bucket {self.bucket!r} does not exist (call ensure())"
            raise KeyValueError(msg) from None
        answer = json.loads(reply.payload)
        error = answer.get("error")
        if error is not None:
            if error.get("err_code") == _WRONG_LAST_SEQUENCE:
                raise WrongRevision(str(error.get("description", "wrong last sequence")))
            msg = f"cannot write {key!r} in {self.bucket!r}: {error}"
            raise KeyValueError(msg)
        return int(answer["seq"])

    async def create(self, key: str, value: bytes) -> int:
        """Write ``key`` only if it has no value; its revision. Raises :class:`WrongRevision`."""
        try:
            return await self._write(key, value, {_EXPECTED_LAST: "0"})
        except WrongRevision:
            # A deleted key keeps its delete marker: expect that one instead.
            last = await self._last(key)
            if last is None or not last[1]:
                raise
            return await self._write(key, value, {_EXPECTED_LAST: str(last[0].revision)})

    async def delete(self, key: str, revision: int) -> None:
        """Delete ``key`` if ``revision`` is still its last. Raises :class:`WrongRevision`."""
        await self._write(key, b"", {"KV-Operation": "DEL", _EXPECTED_LAST: str(revision)})
