"""Remote refs: calls and casts to a server exported, or holding a global name, elsewhere.

A call is a NATS request whose headers carry ``Otp-Protocol`` (the version),
``Otp-Kind`` (``call`` or ``cast``), ``Otp-Deadline`` (the seconds left) and
``Otp-Correlation``; the reply is ``{"ok": value}`` or ``{"error": {"type", "message",
"traceback"}}`` (with ``"node"`` for a group member's).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import traceback
from typing import TYPE_CHECKING, Any, final

import cattrs
import trio

import otp

from ._codec import JSON, Codec
from ._errors import (
    ConnectionClosed,
    DistDeclarationError,
    NodeDown,
    NoResponders,
    RemoteError,
    RequestTimeout,
)

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["PROTOCOL", "Pending", "RemoteRef", "describe", "error_envelope", "signer"]

PROTOCOL = "1"


class Pending:
    __slots__ = ("lost_with", "scope")

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope = scope
        self.lost_with: str | None = None


def signer(payload: bytes, codec: Codec) -> str:
    try:
        return str(codec.loads(payload).get("node", "?"))
    except (ValueError, AttributeError):
        return "?"


def describe(error: BaseException) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(error)) or str(error)
    return f"{type(error).__name__}: {error}"


def error_envelope(error: BaseException) -> dict[str, str]:
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
    }


@final
class RemoteRef:
    """Calls and casts to a server exported under a cluster name, like a local ref's.

    Example::

        reply = await node.remote("cache").call(("get", "k"), timeout=1.0)
    """

    def __init__(self, node: Node, name: str, reply_type: Any, subject: str) -> None:  # noqa: ANN401
        self.node = node
        self.name = name
        self.subject = subject
        self.reply_type = reply_type

    def __repr__(self) -> str:
        return f"<otp.dist.RemoteRef {self.name!r} in {self.node.cluster!r}>"

    def _payload(self, message: object) -> bytes:
        try:
            return self.node.codec.dumps(self.node.converter.unstructure(message))
        except (TypeError, ValueError, OverflowError) as error:
            kind = "JSON" if self.node.codec is JSON else self.node.codec.name
            msg = f"a message to {self.name!r} must be {kind}-able through cattrs: {error}"
            raise DistDeclarationError(msg) from error

    async def call(self, request: object, *, timeout: float = 5.0) -> Any:  # noqa: ANN401, ASYNC109
        """Call the remote server; its handler runs under this call's remaining deadline.

        Raises:
            otp.NoProc: No node exports the name (known in one round trip).
            otp.CallTimeout: No reply within ``timeout``; the remote handler is cancelled.
            RemoteError: The remote side failed (type, message and traceback).
            NodeDown: The only node serving the name went down while the call waited.

        Example::

            total = await node.remote("counter").call("increment", timeout=2)
        """
        connection = self.node.connection
        correlation = secrets.token_hex(8)
        headers = {
            "Otp-Protocol": PROTOCOL,
            "Otp-Kind": "call",
            "Otp-Deadline": f"{timeout:.6f}",
            "Otp-Correlation": correlation,
        }
        if self.node.codec is not JSON:
            headers["Otp-Codec"] = self.node.codec.name
        payload = self._payload(request)
        pending = Pending(trio.CancelScope())
        waiting = self.node._pending.setdefault(self.subject, set())
        waiting.add(pending)
        try:
            with pending.scope:
                reply = await connection.request(
                    self.subject, payload, headers=headers, timeout=timeout
                )
        except NoResponders:
            msg = f"no node of cluster {self.node.cluster!r} exports a server {self.name!r}"
            raise otp.NoProc(msg) from None
        except RequestTimeout:
            self._cancel(correlation)
            msg = f"remote server {self.name!r} did not reply within {timeout:g} s"
            raise otp.CallTimeout(msg) from None
        except trio.Cancelled:
            self._cancel(correlation)
            raise
        finally:
            waiting.discard(pending)
        if pending.lost_with is not None:
            msg = (
                f"remote server {self.name!r} was lost with node {pending.lost_with!r}, "
                "which went down while the call waited"
            )
            raise NodeDown(msg, pending.lost_with)
        return self._unwrap(reply.payload)

    def _cancel(self, correlation: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            self.node.connection.publish(f"otp.{self.node.cluster}.cancel", correlation.encode())

    def _unwrap(self, payload: bytes) -> Any:  # noqa: ANN401
        try:
            envelope = self.node.codec.loads(payload)
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or not ({"ok", "error"} & set(envelope)):
            msg = f"remote server {self.name!r} sent a reply that is not an otp envelope"
            raise RemoteError(msg, "InvalidReply", repr(payload[:80]), "")
        if "error" in envelope:
            error = envelope["error"]
            kind, text = str(error.get("type", "")), str(error.get("message", ""))
            msg = f"remote server {self.name!r} failed: {kind}: {text}"
            raise RemoteError(msg, kind, text, str(error.get("traceback", "")))
        value = envelope["ok"]
        if self.reply_type is None:
            return value
        try:
            return self.node.converter.structure(value, self.reply_type)
        except (cattrs.BaseValidationError, ValueError, TypeError) as error:
            msg = f"remote server {self.name!r} sent a reply that does not fit: {describe(error)}"
            raise RemoteError(msg, "InvalidReply", str(error), "") from error

    def cast(self, message: object) -> None:
        """Send ``message`` to the remote server's ``handle_cast``; no reply, no error.

        Example::

            node.remote("log").cast({"event": "started"})
        """
        headers = {"Otp-Protocol": PROTOCOL, "Otp-Kind": "cast"}
        if self.node.codec is not JSON:
            headers["Otp-Codec"] = self.node.codec.name
        self.node.connection.publish(self.subject, self._payload(message), headers=headers)
