"""Nodes: servers exported under cluster names, and refs that call them from anywhere.

Subjects (``<cluster>`` is the node's cluster):

* ``otp.<cluster>.svc.<name>``, queue group ``<name>``: calls and casts to the server
  exported as ``name`` (on whichever node exports it: several nodes make a pool);
* ``otp.<cluster>.cancel``: a caller that gave up names the call's correlation id here;
* ``otp.<cluster>.dead``: dead letters, messages refused on receipt, with the reason;
* ``otp.<cluster>.hb.<node>``: each node's heartbeats, ``{"node": id, "seq": n}``.

A call is a NATS request whose headers carry ``Otp-Protocol`` (the version), ``Otp-Kind``
(``call`` or ``cast``), ``Otp-Deadline`` (the seconds left, so that no clocks need agree)
and ``Otp-Correlation``. The payload and the reply are JSON: requests and replies go
through a cattrs converter (``request_type`` and ``reply_type`` structure them), and the
reply is ``{"ok": value}`` or ``{"error": {"type", "message", "traceback"}}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import traceback
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from typing import Any, final

import attrs
import cattrs
import trio

import otp

from ._client import Connection, Subscription, open_connection
from ._errors import (
    ConnectionClosed,
    DistDeclarationError,
    NoResponders,
    RemoteError,
    RequestTimeout,
)
from ._peers import PeerEvent, PeerInfo, Peers, PeerState
from ._protocol import Msg

__all__ = ["DeadLetter", "Node", "RemoteRef", "open_node"]

logger = logging.getLogger("otp.dist")

PROTOCOL = "1"
_NAME_PART = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _check_part(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _NAME_PART:
        msg = f"{what} must be letters, digits, '_' or '-' (got {value!r})"
        raise DistDeclarationError(msg)
    return value


@final
@attrs.frozen
class DeadLetter:
    """A message a node refused on receipt, and why (also published on ``otp.<cluster>.dead``).

    Example::

        for letter in node.dead_letters:
            print(letter.subject, letter.reason)
    """

    subject: str
    reason: str
    payload: bytes


@final
class Node:
    """This process in a cluster: exports local servers and calls remote ones.

    Made by :func:`open_node`. Its id is ``name@host:pid``.

    Example::

        async with otp.dist.open_node(url, "shop1") as node:
            await node.export("cache", cache_ref)
            price = await node.remote("prices").call(("get", "apple"))
    """

    def __init__(
        self,
        connection: Connection,
        name: str,
        cluster: str,
        nursery: trio.Nursery,
        converter: cattrs.Converter,
    ) -> None:
        self.connection = connection
        self.name = name
        self.cluster = cluster
        self.id = f"{name}@{socket.gethostname()}:{os.getpid()}"
        self.converter = converter
        self._nursery = nursery
        self._in_flight: dict[str, trio.CancelScope] = {}
        self._dead: list[DeadLetter] = []
        self._exports: dict[str, otp.ServerRef[Any, Any]] = {}
        self._peers: Peers | None = None
        self._hooks: tuple[Callable[[PeerEvent], object], ...] = ()
        self.partitioned = False
        """Whether this node has lost its own link to the broker (peers are not judged)."""

    def __repr__(self) -> str:
        return f"<otp.dist.Node {self.id!r} cluster={self.cluster!r}>"

    def subject(self, name: str) -> str:
        """The subject of the server exported as ``name``."""
        return f"otp.{self.cluster}.svc.{_check_part('a server name', name)}"

    # -- exporting -----------------------------------------------------------------------

    async def export(
        self,
        name: str,
        server: otp.ServerRef[Any, Any] | Hashable,
        *,
        request_type: Any = None,  # noqa: ANN401  (a type for cattrs to structure into)
    ) -> None:
        """Serve calls and casts for ``name`` from the whole cluster with the local ``server``.

        ``server`` is a ref or a registered name (a name follows restarts). With
        ``request_type``, each request is structured into it by the node's converter, and
        one that does not fit is a dead letter, answered with an error. Several nodes may
        export one name: each request goes to one of them. Once it returns, calls reach it.

        Example::

            await node.export("cache", "cache")  # the local server registered as "cache"
        """
        subject = self.subject(name)
        if name in self._exports:
            msg = f"node {self.id!r} already exports {name!r}"
            raise DistDeclarationError(msg)
        ref = server if isinstance(server, otp.ServerRef) else otp.named(server)
        self._exports[name] = ref
        requests = self.connection.subscribe(subject, queue=name)
        self._nursery.start_soon(self._serve, name, ref, requests, request_type)
        await self.connection.flush()  # the server knows of the subscription: calls reach it

    async def _serve(
        self,
        name: str,
        ref: otp.ServerRef[Any, Any],
        requests: Subscription,
        request_type: Any,  # noqa: ANN401
    ) -> None:
        async for message in requests:
            self._nursery.start_soon(self._handle, name, ref, message, request_type)

    async def _handle(
        self,
        name: str,
        ref: otp.ServerRef[Any, Any],
        message: Msg,
        request_type: Any,  # noqa: ANN401
    ) -> None:
        headers = message.headers or {}
        version = headers.get("Otp-Protocol")
        if version != PROTOCOL:
            reason = f"protocol version {version!r}; this node speaks {PROTOCOL!r}"
            self._refuse(message, reason)
            return
        try:
            remaining = float(headers.get("Otp-Deadline", "5"))
            data = json.loads(message.payload)
            request = data if request_type is None else self.converter.structure(data, request_type)
        except (ValueError, TypeError, cattrs.BaseValidationError) as error:
            self._refuse(message, f"invalid request for {name!r}: {_describe(error)}")
            return
        if headers.get("Otp-Kind") == "cast":
            try:
                ref.cast(request)
            except otp.NoProc:
                logger.warning("node %r: cast to %r, which is not running", self.id, name)
            return
        correlation = headers.get("Otp-Correlation", "")
        with trio.move_on_after(remaining) as scope:
            self._in_flight[correlation] = scope
            try:
                reply = await ref.call(request, timeout=None)  # the caller's deadline rules
                envelope: dict[str, object] = {"ok": self.converter.unstructure(reply)}
            except otp.OtpError as error:
                envelope = {"error": _error(error)}
            except Exception as error:  # noqa: BLE001  (reported to the caller, not ours)
                envelope = {"error": _error(error)}
            finally:
                self._in_flight.pop(correlation, None)
        if scope.cancelled_caught or message.reply is None:
            return  # the caller has given up: nobody waits for the reply
        try:
            body = json.dumps(envelope).encode()
        except (TypeError, ValueError) as error:
            body = json.dumps({"error": _error(error)}).encode()
        try:
            self.connection.publish(message.reply, body)
        except ConnectionClosed:
            logger.warning("node %r: could not reply to a call of %r: disconnected", self.id, name)

    def _refuse(self, message: Msg, reason: str) -> None:
        letter = DeadLetter(message.subject, reason, message.payload)
        self._dead.append(letter)
        logger.warning("node %r refused a message on %s: %s", self.id, message.subject, reason)
        record = {"node": self.id, "subject": message.subject, "reason": reason}
        try:
            self.connection.publish(f"otp.{self.cluster}.dead", json.dumps(record).encode())
            if message.reply is not None:
                error = {"type": "InvalidMessage", "message": reason, "traceback": ""}
                self.connection.publish(message.reply, json.dumps({"error": error}).encode())
        except ConnectionClosed:
            pass

    async def _watch_cancels(self, cancels: Subscription) -> None:
        async for message in cancels:
            scope = self._in_flight.get(message.payload.decode(errors="replace"))
            if scope is not None:
                scope.cancel()

    # -- calling -------------------------------------------------------------------------

    def remote(self, name: str, *, reply_type: Any = None) -> RemoteRef:  # noqa: ANN401
        """A ref to the server exported as ``name`` anywhere in the cluster.

        Example::

            prices = node.remote("prices")
            await prices.call(("get", "apple"), timeout=2)
        """
        return RemoteRef(self, name, reply_type)

    # -- liveness ------------------------------------------------------------------------

    def peers(self) -> dict[str, PeerInfo]:
        """The other nodes heard of, by name, with their state and phi.

        Example::

            down = [name for name, peer in node.peers().items() if peer.state == "down"]
        """
        return {} if self._peers is None else self._peers.info()

    async def _beat(self, interval: float) -> None:
        subject = f"otp.{self.cluster}.hb.{self.name}"
        sequence = 0
        while True:
            if self.connection.connected:
                sequence += 1
                body = json.dumps({"node": self.id, "seq": sequence}).encode()
                with contextlib.suppress(ConnectionClosed):
                    self.connection.publish(subject, body)
            await trio.sleep(interval)

    async def _hear(self, beats: Subscription) -> None:
        assert self._peers is not None
        async for message in beats:
            name = message.subject.rpartition(".")[2]
            if name == self.name:
                continue
            try:
                node_id = str(json.loads(message.payload)["node"])
            except (ValueError, KeyError, TypeError):
                self._refuse(message, 'a heartbeat that is not {"node": ..., "seq": ...}')
                continue
            self._emit(self._peers.heartbeat(name, node_id))

    async def _judge(self, interval: float) -> None:
        assert self._peers is not None
        while True:
            await trio.sleep(interval / 4)
            if not self.connection.connected:
                if not self.partitioned:
                    logger.warning("node %r is cut off from the broker: partitioned", self.id)
                self.partitioned = True
                continue
            if self.partitioned:
                self.partitioned = False
                self._peers.resume_all()  # the silence was ours
                logger.info("node %r is back in touch with the broker", self.id)
                continue
            self._emit(self._peers.check())

    def _emit(self, events: list[PeerEvent]) -> None:
        for event in events:
            log = logger.warning if event.state is PeerState.DOWN else logger.info
            log("node %r: peer %r is %s (%s)", self.id, event.name, event.state.value, event.reason)
            for hook in self._hooks:
                try:
                    hook(event)
                except Exception:
                    logger.exception("node %r: peer hook %r raised", self.id, hook)

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        """The messages this node refused on receipt, oldest first."""
        return tuple(self._dead)


def _describe(error: BaseException) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(error)) or str(error)
    return f"{type(error).__name__}: {error}"


def _error(error: BaseException) -> dict[str, str]:
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

    def __init__(self, node: Node, name: str, reply_type: Any) -> None:  # noqa: ANN401
        self.node = node
        self.name = name
        self.subject = node.subject(name)
        self.reply_type = reply_type

    def __repr__(self) -> str:
        return f"<otp.dist.RemoteRef {self.name!r} in {self.node.cluster!r}>"

    def _payload(self, message: object) -> bytes:
        try:
            return json.dumps(self.node.converter.unstructure(message)).encode()
        except (TypeError, ValueError) as error:
            msg = f"a message to {self.name!r} must be JSON-able through cattrs: {error}"
            raise DistDeclarationError(msg) from error

    async def call(self, request: object, *, timeout: float = 5.0) -> Any:  # noqa: ANN401, ASYNC109
        """Call the remote server; its handler runs under this call's remaining deadline.

        Raises:
            otp.NoProc: No node exports the name (known in one round trip).
            otp.CallTimeout: No reply within ``timeout``; the remote handler is cancelled.
            RemoteError: The remote side failed (type, message and traceback).

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
        payload = self._payload(request)
        try:
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
        return self._unwrap(reply.payload)

    def _cancel(self, correlation: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            self.node.connection.publish(f"otp.{self.node.cluster}.cancel", correlation.encode())

    def _unwrap(self, payload: bytes) -> Any:  # noqa: ANN401
        try:
            envelope = json.loads(payload)
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
            msg = f"remote server {self.name!r} sent a reply that does not fit: {_describe(error)}"
            raise RemoteError(msg, "InvalidReply", str(error), "") from error

    def cast(self, message: object) -> None:
        """Send ``message`` to the remote server's ``handle_cast``; no reply, no error.

        Example::

            node.remote("log").cast({"event": "started"})
        """
        headers = {"Otp-Protocol": PROTOCOL, "Otp-Kind": "cast"}
        self.node.connection.publish(self.subject, self._payload(message), headers=headers)


@asynccontextmanager
async def open_node(
    url: str,
    name: str,
    *,
    cluster: str = "main",
    converter: cattrs.Converter | None = None,
    heartbeat_interval: float = 1.0,
    suspect_phi: float = 3.0,
    down_phi: float = 8.0,
    acceptable_pause: float = 1.0,
    on_peer: Sequence[Callable[[PeerEvent], object]] = (),
    **connection_options: Any,  # noqa: ANN401
) -> AsyncIterator[Node]:
    """Join ``cluster`` as node ``name`` through the NATS server at ``url``, for the block.

    ``connection_options`` go to :func:`open_connection`. The node's exports are served in
    the block's nursery; leaving the block stops serving them.

    Every node publishes a heartbeat on ``otp.<cluster>.hb.<name>`` each
    ``heartbeat_interval`` seconds and listens to the others': each peer's arrival times
    feed a :class:`otp.PhiAccrualDetector`, and a peer is ``suspect`` from ``suspect_phi``
    and ``down`` at ``down_phi`` (``acceptable_pause`` seconds of silence are tolerated on
    top of the usual interval). Each change is a :class:`PeerEvent` for the ``on_peer``
    hooks. While this node's own link to the broker is down it is :attr:`Node.partitioned`
    and judges nobody; back in touch, the silence is not held against the peers.

    Example::

        async with otp.dist.open_node("nats://127.0.0.1:4222", "worker1") as node:
            await node.export("resize", "resizer")
            await trio.sleep_forever()
    """
    _check_part("a node name", name)
    _check_part("a cluster name", cluster)
    async with (
        open_connection(url, name=name, **connection_options) as connection,
        trio.open_nursery() as nursery,
    ):
        node = Node(connection, name, cluster, nursery, converter or cattrs.Converter())
        node._peers = Peers(
            interval=heartbeat_interval,
            suspect_phi=suspect_phi,
            down_phi=down_phi,
            acceptable_pause=acceptable_pause,
            clock=trio.current_time,
        )
        node._hooks = tuple(on_peer)
        cancels = connection.subscribe(f"otp.{cluster}.cancel")
        nursery.start_soon(node._watch_cancels, cancels)
        nursery.start_soon(node._hear, connection.subscribe(f"otp.{cluster}.hb.*"))
        nursery.start_soon(node._beat, heartbeat_interval)
        nursery.start_soon(node._judge, heartbeat_interval)
        await connection.flush()
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()
