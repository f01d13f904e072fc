"""Nodes: servers exported under cluster names, and refs that call them from anywhere.

Subjects (``<cluster>`` is the node's cluster):

* ``otp.<cluster>.svc.<name>``, queue group ``<name>``: calls and casts to the server
  exported as ``name`` (on whichever node exports it: several nodes make a pool);
* ``otp.<cluster>.cancel``: a caller that gave up names the call's correlation id here;
* ``otp.<cluster>.dead``: dead letters, messages refused on receipt, with the reason;
* ``otp.<cluster>.hb.<node>``: each node's heartbeats, ``{"node": id, "seq": n, "roles":
  [...], "serves": [subjects]}`` (what it serves tells callers whose calls a loss ends);
* ``otp.<cluster>.name.<name>``: calls and casts to the server holding a global name;
* ``otp.<cluster>.names.released``: a global name was released, ``{"name", "node", "why"}``;
* ``otp.<cluster>.grp.<group>``: broadcasts to every member of a group (no queue group);
* ``otp.<cluster>.control.<node>.start`` / ``.stop`` / ``.exit``: remote children (``_host``).

A call is a NATS request whose headers carry ``Otp-Protocol`` (the version), ``Otp-Kind``
(``call`` or ``cast``), ``Otp-Deadline`` (the seconds left, so that no clocks need agree)
and ``Otp-Correlation``. The payload and the reply are JSON: requests and replies go
through a cattrs converter (``request_type`` and ``reply_type`` structure them), and the
reply is ``{"ok": value}`` or ``{"error": {"type", "message", "traceback"}}``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from typing import Any, final

import attrs
import cattrs
import trio

import otp

from ._client import Connection, Subscription, open_connection
from ._codec import JSON, Codec, codec_named
from ._errors import (
    ConnectionClosed,
    DistDeclarationError,
    DistError,
    NodeDown,
    NoNodeAvailable,
    NoResponders,
    RemoteChildFailed,
    RemoteError,
    RequestTimeout,
)
from ._groups import BroadcastResult
from ._host import Host
from ._monitors import RemoteMonitor
from ._names import GlobalNames, Holding, Owner
from ._peers import PeerEvent, PeerInfo, Peers, PeerState
from ._protocol import Msg
from ._ref import PROTOCOL, Pending, RemoteRef, describe, error_envelope, signer

__all__ = ["DeadLetter", "Node", "current_node", "open_node"]

logger = logging.getLogger("otp.dist")

_NAME_PART = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


_current: contextvars.ContextVar[Node] = contextvars.ContextVar("otp.dist.node")


def current_node() -> Node:
    """The node whose :func:`open_node` block this task runs in.

    Raises:
        DistError: The task runs outside any ``open_node`` block.

    Example::

        async with otp.dist.open_node(url, "a") as node:
            assert otp.dist.current_node() is node
    """
    try:
        return _current.get()
    except LookupError:
        msg = (
            "no otp.dist node here: run this (for example the supervisor of a remote child) "
            "inside an `async with otp.dist.open_node(...)` block"
        )
        raise DistError(msg) from None


def check_part(what: str, value: object) -> str:
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


class ExitWaiter:
    """A remote child's proxy waits on this: set by the child's end or its node's."""

    __slots__ = ("description", "done", "kind", "node")

    def __init__(self, node: str) -> None:
        self.node = node
        self.done = trio.Event()
        self.kind = ""
        self.description = ""

    def finish(self, kind: str, description: str) -> None:
        if not self.done.is_set():
            self.kind, self.description = kind, description
            self.done.set()

    def raise_outcome(self) -> None:
        where = f"the remote child on node {self.node!r}"
        if self.kind == "normal":
            return
        if self.kind == "shutdown":
            raise otp.Shutdown(f"{where}: {self.description}")
        if self.kind == "node_down":
            msg = f"{where} is lost: its node went down ({self.description})"
            raise NodeDown(msg, self.node)
        msg = f"{where} exited: {self.description}"
        raise RemoteChildFailed(msg, self.node, self.kind)


@attrs.define
class _Meta:
    roles: frozenset[str] = frozenset()
    serves: frozenset[str] = frozenset()


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
        *,
        roles: frozenset[str] = frozenset(),
        heartbeat_interval: float = 1.0,
        codec: Codec = JSON,
    ) -> None:
        self.connection = connection
        self.codec = codec
        self.name = name
        self.cluster = cluster
        self.id = f"{name}@{socket.gethostname()}:{os.getpid()}"
        self.converter = converter
        self.roles = roles
        self.heartbeat_interval = heartbeat_interval
        self._nursery = nursery
        self._in_flight: dict[str, trio.CancelScope] = {}
        self._dead: list[DeadLetter] = []
        self._exports: dict[str, otp.ServerRef[Any, Any]] = {}
        self._serving: dict[str, trio.CancelScope] = {}
        self._groups: set[str] = set()
        self._peers: Peers | None = None
        self._meta: dict[str, _Meta] = {}
        self._hooks: tuple[Callable[[PeerEvent], object], ...] = ()
        self._pending: dict[str, set[Pending]] = {}
        self._waiters: dict[str, ExitWaiter] = {}
        self._abandoned: dict[str, set[str]] = {}
        self._monitors: set[RemoteMonitor] = set()
        self._peer_changed = trio.Event()
        self._host = Host(self)
        self._names = GlobalNames(self)
        self.partitioned = False
        """Whether this node has lost its own link to the broker (peers are not judged)."""

    def __repr__(self) -> str:
        return f"<otp.dist.Node {self.id!r} cluster={self.cluster!r}>"

    def subject(self, name: str) -> str:
        """The subject of the server exported as ``name``."""
        return f"otp.{self.cluster}.svc.{check_part('a server name', name)}"

    def _name_subject(self, name: str) -> str:
        return f"otp.{self.cluster}.name.{check_part('a global name', name)}"

    def _group_subject(self, group: str) -> str:
        return f"otp.{self.cluster}.grp.{check_part('a group name', group)}"

    # -- serving -------------------------------------------------------------------------

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
        await self._serve_subject(subject, name, ref, request_type, queue=name)

    async def _serve_subject(
        self,
        subject: str,
        label: str,
        ref: otp.ServerRef[Any, Any],
        request_type: Any,  # noqa: ANN401
        *,
        queue: str | None = None,
        sign: bool = False,
    ) -> None:
        requests = self.connection.subscribe(subject, queue=queue)
        scope = trio.CancelScope()
        self._serving[subject] = scope
        self._nursery.start_soon(self._serve, scope, label, ref, requests, request_type, sign)
        self._announce_serves()
        await self.connection.flush()  # the server knows of the subscription: calls reach it

    def _unserve(self, subject: str) -> None:
        scope = self._serving.pop(subject, None)
        if scope is not None:
            scope.cancel()
            self._announce_serves()

    async def _serve(  # noqa: PLR0917  (a task's arguments, given by start_soon)
        self,
        scope: trio.CancelScope,
        name: str,
        ref: otp.ServerRef[Any, Any],
        requests: Subscription,
        request_type: Any,  # noqa: ANN401
        sign: bool,  # noqa: FBT001
    ) -> None:
        with scope:
            async with requests:
                async for message in requests:
                    self._nursery.start_soon(self._handle, name, ref, message, request_type, sign)

    async def _handle(
        self,
        name: str,
        ref: otp.ServerRef[Any, Any],
        message: Msg,
        request_type: Any,  # noqa: ANN401
        sign: bool,  # noqa: FBT001
    ) -> None:
        headers = message.headers or {}
        version = headers.get("Otp-Protocol")
        if version != PROTOCOL:
            reason = f"protocol version {version!r}; this node speaks {PROTOCOL!r}"
            self._refuse(message, reason)
            return
        try:
            codec = JSON if "Otp-Codec" not in headers else codec_named(headers["Otp-Codec"])
        except DistDeclarationError as error:
            self._refuse(message, str(error))
            return
        try:
            remaining = float(headers.get("Otp-Deadline", "5"))
            data = codec.loads(message.payload)
            request = data if request_type is None else self.converter.structure(data, request_type)
        except (ValueError, TypeError, cattrs.BaseValidationError) as error:
            self._refuse(message, f"invalid request for {name!r}: {describe(error)}", codec)
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
                envelope = {"error": error_envelope(error)}
            except Exception as error:  # noqa: BLE001  (reported to the caller, not ours)
                envelope = {"error": error_envelope(error)}
            finally:
                self._in_flight.pop(correlation, None)
        if scope.cancelled_caught or message.reply is None:
            return  # the caller has given up: nobody waits for the reply
        if sign:
            envelope["node"] = self.name
        try:
            body = codec.dumps(envelope)
        except (TypeError, ValueError, OverflowError) as error:
            body = codec.dumps({"error": error_envelope(error), "node": self.name})
        try:
            self.connection.publish(message.reply, body)
        except ConnectionClosed:
            logger.warning("node %r: could not reply to a call of %r: disconnected", self.id, name)

    def _refuse(self, message: Msg, reason: str, codec: Codec = JSON) -> None:
        letter = DeadLetter(message.subject, reason, message.payload)
        self._dead.append(letter)
        logger.warning("node %r refused a message on %s: %s", self.id, message.subject, reason)
        record = {"node": self.id, "subject": message.subject, "reason": reason}
        try:
            self.connection.publish(f"otp.{self.cluster}.dead", json.dumps(record).encode())
            if message.reply is not None:
                error = {"type": "InvalidMessage", "message": reason, "traceback": ""}
                self.connection.publish(message.reply, codec.dumps({"error": error}))
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
        return RemoteRef(self, name, reply_type, self.subject(name))

    # -- global names --------------------------------------------------------------------

    async def register_global(
        self,
        name: str,
        server: otp.ServerRef[Any, Any] | Hashable,
        *,
        request_type: Any = None,  # noqa: ANN401
    ) -> None:
        """Hold the cluster-wide ``name`` for the local ``server`` (at most one owner).

        The name is released when the server ends, when this node leaves, or (by the
        others) when this node is judged down; :meth:`global_ref` calls it from anywhere.
        It needs JetStream on the broker (:func:`run_nats_server` enables it).

        Raises:
            NameTaken: A node that is up holds the name.

        Example::

            await node.register_global("leader", "election")
            await node.global_ref("leader").call("status")
        """
        ref = server if isinstance(server, otp.ServerRef) else otp.named(server)
        await self._hold_global(name, ref, request_type=request_type)

    async def _hold_global(
        self,
        name: str,
        ref: otp.ServerRef[Any, Any],
        *,
        request_type: Any = None,  # noqa: ANN401
        on_lost: Callable[[str], object] | None = None,
    ) -> Holding:
        subject = self._name_subject(name)
        if name in self._names.held:
            msg = f"node {self.id!r} already holds the global name {name!r}"
            raise DistDeclarationError(msg)
        if not ref.alive:
            msg = f"cannot register the global name {name!r}: {ref.description} is not running"
            raise otp.NoProc(msg)
        holding = await self._names.claim(name, on_lost, wait=2 * self.heartbeat_interval + 1)
        await self._serve_subject(subject, name, ref, request_type)
        self._nursery.start_soon(self._release_when_down, name, otp.monitor(ref), holding)
        return holding

    async def _release_when_down(self, name: str, monitor: otp.Monitor, holding: Holding) -> None:
        await monitor.wait()
        await self._names.release(name, "its server ended", holding)

    async def unregister_global(self, name: str) -> None:
        """Release the global ``name`` this node holds (nothing if it does not).

        Example::

            await node.unregister_global("leader")
        """
        await self._names.release(name, "unregistered")

    async def whereis_global(self, name: str) -> Owner | None:
        """Who holds the global ``name`` now, or ``None``.

        Example::

            owner = await node.whereis_global("leader")
        """
        return await self._names.whereis(check_part("a global name", name))

    def global_ref(self, name: str, *, reply_type: Any = None) -> RemoteRef:  # noqa: ANN401
        """A ref to whichever server holds the global ``name`` at each call.

        Example::

            await node.global_ref("leader").call("status", timeout=1)
        """
        return RemoteRef(self, name, reply_type, self._name_subject(name))

    def _announce_release(self, name: str, why: str) -> None:
        record = {"name": name, "node": self.id, "why": why}
        with contextlib.suppress(ConnectionClosed):
            self.connection.publish(
                f"otp.{self.cluster}.names.released", json.dumps(record).encode()
            )

    async def _watch_releases(self, releases: Subscription) -> None:
        async for message in releases:
            try:
                data = json.loads(message.payload)
                name, why = str(data["name"]), str(data["why"])
            except (ValueError, KeyError, TypeError):
                self._refuse(message, 'a release that is not {"name", "node", "why"}')
                continue
            for monitor in list(self._monitors):
                if monitor.kind == "name" and monitor.target == name:
                    monitor._fire(monitor.node_id.partition("@")[0], why)

    # -- groups --------------------------------------------------------------------------

    async def join(
        self,
        group: str,
        server: otp.ServerRef[Any, Any] | Hashable,
        *,
        request_type: Any = None,  # noqa: ANN401
    ) -> None:
        """Make the local ``server`` a member of ``group``: it answers :meth:`broadcast`.

        Example::

            await node.join("caches", "cache")
        """
        subject = self._group_subject(group)
        if group in self._groups:
            msg = f"node {self.id!r} is already in group {group!r}"
            raise DistDeclarationError(msg)
        self._groups.add(group)
        ref = server if isinstance(server, otp.ServerRef) else otp.named(server)
        await self._serve_subject(subject, group, ref, request_type, sign=True)

    def leave(self, group: str) -> None:
        """Stop answering broadcasts to ``group``."""
        self._groups.discard(group)
        self._unserve(self._group_subject(group))

    def members(self, group: str) -> frozenset[str]:
        """The nodes (by name) that are up and in ``group``, as the heartbeats tell."""
        subject = self._group_subject(group)
        up = {
            name
            for name, peer in self.peers().items()
            if peer.state is not PeerState.DOWN and subject in self._meta.get(name, _Meta()).serves
        }
        return frozenset(up | ({self.name} if group in self._groups else set()))

    async def broadcast(
        self,
        group: str,
        request: object,
        *,
        timeout: float = 2.0,  # noqa: ASYNC109
        reply_type: Any = None,  # noqa: ANN401
    ) -> BroadcastResult:
        """Call every member of ``group`` at once; each member's reply, error or silence.

        It returns when every expected member (see :meth:`members`) has answered, or at
        ``timeout``; :meth:`BroadcastResult.check` turns a partial result into an error.

        Example::

            result = await node.broadcast("caches", ("drop", key), timeout=1)
            result.check()
        """
        subject = self._group_subject(group)
        expected = set(self.members(group))
        replies: dict[str, Any] = {}
        errors: dict[str, RemoteError] = {}
        inbox = f"{self.connection.new_inbox()}.all"  # not under the shared request inbox
        ref = RemoteRef(self, group, reply_type, subject)
        headers = {
            "Otp-Protocol": PROTOCOL,
            "Otp-Kind": "call",
            "Otp-Deadline": f"{timeout:.6f}",
            "Otp-Correlation": secrets.token_hex(8),
        }
        if self.codec is not JSON:
            headers["Otp-Codec"] = self.codec.name
        async with self.connection.subscribe(inbox) as answers:
            with trio.move_on_after(timeout):
                self.connection.publish(
                    subject, ref._payload(request), reply=inbox, headers=headers
                )
                while expected - replies.keys() - errors.keys():
                    message = await answers.next()
                    member = signer(message.payload, self.codec)
                    try:
                        replies[member] = ref._unwrap(message.payload)
                    except RemoteError as error:
                        errors[member] = error
        missing = frozenset(expected - replies.keys() - errors.keys())
        return BroadcastResult(group, replies, errors, missing)

    # -- monitors ------------------------------------------------------------------------

    def monitor_node(
        self, name: str, *, notify: otp.ServerRef[Any, Any] | None = None
    ) -> RemoteMonitor:
        """One :class:`RemoteDown` (reason ``node_down``) when the node ``name`` goes down.

        It fires at once for a node judged down already; a node not heard of yet is waited
        for. With ``notify``, the DOWN is also sent to that server's ``handle_info``.

        Example::

            down = await node.monitor_node("b").wait()
        """
        check_part("a node name", name)
        peer = self.peers().get(name)
        monitor = RemoteMonitor(self, "node", name, "" if peer is None else peer.node_id, notify)
        self._monitors.add(monitor)
        if peer is not None and peer.state is PeerState.DOWN:
            monitor._fire(name, "node_down")
        return monitor

    async def monitor_global(
        self, name: str, *, notify: otp.ServerRef[Any, Any] | None = None
    ) -> RemoteMonitor:
        """One :class:`RemoteDown` when the holder of the global ``name`` is gone.

        The reason is ``node_down`` if its node went down, why it released the name
        otherwise, and ``noproc`` at once if nobody holds it.

        Example::

            monitor = await node.monitor_global("leader")
            print((await monitor.wait()).reason)
        """
        owner = await self.whereis_global(name)
        monitor = RemoteMonitor(self, "name", name, "" if owner is None else owner.node_id, notify)
        self._monitors.add(monitor)
        if owner is None:
            monitor._fire("", "noproc")
        return monitor

    # -- remote children -----------------------------------------------------------------

    async def node_info(self, name: str, *, timeout: float = 2.0) -> dict[str, Any]:  # noqa: ASYNC109
        """What node ``name`` hosts (remote children) and holds (global names), from it.

        Raises:
            NoResponders: No node of that name is in the cluster.

        Example::

            info = await node.node_info("b")
            print(info["children"], info["names"])
        """
        subject = self._host.control_subject(check_part("a node name", name), "info")
        reply = await self.connection.request(subject, b"{}", timeout=timeout)
        answer: dict[str, Any] = json.loads(reply.payload)["ok"]
        return answer

    def _load(self, node_name: str) -> int:
        return sum(1 for waiter in self._waiters.values() if waiter.node == node_name)

    def _candidates(self, node_name: str | None, role: str | None) -> list[str]:
        up = {
            name: self._meta.get(name, _Meta()).roles
            for name, peer in self.peers().items()
            if peer.state is PeerState.UP
        }
        up[self.name] = self.roles
        if node_name is not None and node_name in up:
            return [node_name]
        if role is None:
            return []
        return sorted(
            (n for n, roles in up.items() if role in roles), key=lambda n: (self._load(n), n)
        )

    async def _place(self, node_name: str | None, role: str | None, wait: float) -> str:
        with trio.move_on_after(wait):
            while True:
                candidates = self._candidates(node_name, role)
                if candidates:
                    return candidates[0]
                await self._peer_changed.wait()
        wanted = [f"node {node_name!r}"] if node_name is not None else []
        wanted += [f"role {role!r}"] if role is not None else []
        up = sorted(n for n, p in self.peers().items() if p.state is PeerState.UP)
        msg = (
            f"no node is up for {' or '.join(wanted)} "
            f"(up: {', '.join([self.name, *up])}; waited {wait:g} s)"
        )
        raise NoNodeAvailable(msg)

    def _expect_exit(self, instance: str, node_name: str) -> ExitWaiter:
        waiter = self._waiters[instance] = ExitWaiter(node_name)
        return waiter

    def _forget_exit(self, instance: str) -> None:
        self._waiters.pop(instance, None)

    def _remote_exit(self, payload: bytes) -> None:
        try:
            data = json.loads(payload)
            instance, kind = str(data["instance"]), str(data["kind"])
            description = str(data.get("description", ""))
        except (ValueError, KeyError, TypeError):
            logger.warning("node %r: an exit report that does not parse: %r", self.id, payload[:80])
            return
        waiter = self._waiters.get(instance)
        if waiter is not None:
            waiter.finish(kind, description)

    async def _stop_remote(self, node_name: str, instance: str, timeout: float, why: str) -> None:  # noqa: ASYNC109
        body = json.dumps({"instance": instance, "reason": why}).encode()
        try:
            await self.connection.request(
                self._host.control_subject(node_name, "stop"), body, timeout=timeout
            )
        except (NoResponders, RequestTimeout, ConnectionClosed) as error:
            # Unreachable: stop it when its node is heard again (if it ever is).
            logger.warning("node %r could not stop a child on %r: %s", self.id, node_name, error)
            self._abandoned.setdefault(node_name, set()).add(instance)

    def _stop_stale(self, node_name: str) -> None:
        for instance in self._abandoned.pop(node_name, set()):
            logger.warning("node %r stops a stale child on %r (given up on)", self.id, node_name)
            body = json.dumps({"instance": instance, "reason": "stale: replaced"}).encode()
            with contextlib.suppress(ConnectionClosed):
                self.connection.publish(self._host.control_subject(node_name, "stop"), body)

    # -- liveness ------------------------------------------------------------------------

    def peers(self) -> dict[str, PeerInfo]:
        """The other nodes heard of, by name, with their state and phi.

        Example::

            down = [name for name, peer in node.peers().items() if peer.state == "down"]
        """
        return {} if self._peers is None else self._peers.info()

    def _heartbeat(self, sequence: int, *, update: bool = False) -> bytes:
        beat: dict[str, object] = {
            "node": self.id,
            "seq": sequence,
            "roles": sorted(self.roles),
            "serves": sorted(self._serving),
        }
        if update:
            beat["update"] = True
        return json.dumps(beat).encode()

    def _announce_serves(self) -> None:
        # At once, not at the next beat: a caller of a name served from now on must know
        # whose loss ends its call.
        with contextlib.suppress(ConnectionClosed):
            self.connection.publish(
                f"otp.{self.cluster}.hb.{self.name}", self._heartbeat(0, update=True)
            )

    async def _beat(self, interval: float) -> None:
        subject = f"otp.{self.cluster}.hb.{self.name}"
        sequence = 0
        while True:
            if self.connection.connected:
                sequence += 1
                with contextlib.suppress(ConnectionClosed):
                    self.connection.publish(subject, self._heartbeat(sequence))
            await trio.sleep(interval)

    async def _hear(self, beats: Subscription) -> None:
        assert self._peers is not None
        async for message in beats:
            name = message.subject.rpartition(".")[2]
            if name == self.name:
                continue
            try:
                data = json.loads(message.payload)
                node_id = str(data["node"])
                if data.get("leaving") is True:
                    self._emit(self._peers.leave(name, node_id))
                    continue
                meta = _Meta(
                    frozenset(map(str, data.get("roles", ()))),
                    frozenset(map(str, data.get("serves", ()))),
                )
                if data.get("update") is True:  # what it serves changed: not a beat
                    if name in self._meta:
                        self._meta[name] = meta
                    continue
            except (ValueError, KeyError, TypeError):
                self._refuse(message, 'a heartbeat that is not {"node": ..., "seq": ...}')
                continue
            events = self._peers.heartbeat(name, node_id)
            self._meta[name] = meta
            self._emit(events)

    async def _judge(self, interval: float) -> None:
        assert self._peers is not None
        tick = interval / 4
        last = trio.current_time()
        reconnects = self.connection.statistics().reconnects
        while True:
            await trio.sleep(tick)
            now = trio.current_time()
            late, last = now - last - tick, now
            if not self.connection.connected:
                if not self.partitioned:
                    logger.warning("node %r is cut off from the broker: partitioned", self.id)
                self.partitioned = True
                continue
            if self.partitioned or late > max(2 * interval, 1.0):
                if not self.partitioned:
                    logger.warning("node %r was itself paused for %.1f s", self.id, late)
                self.partitioned = False
                self._peers.resume_all()  # the silence was ours
                self._nursery.start_soon(self._verify_names)
                continue
            now_reconnects = self.connection.statistics().reconnects
            if now_reconnects != reconnects:
                reconnects = now_reconnects
                self._nursery.start_soon(self._verify_names)
            self._emit(self._peers.check())

    async def _verify_names(self) -> None:
        # A restarted broker may take a moment to have JetStream again: try for a while.
        for _ in range(20):
            try:
                await self._names.verify()
            except (DistError, ConnectionClosed) as error:
                logger.warning("node %r could not check its global names: %s", self.id, error)
                await trio.sleep(self.heartbeat_interval)
            else:
                return

    def _emit(self, events: list[PeerEvent]) -> None:
        for event in events:
            log = logger.warning if event.state is PeerState.DOWN else logger.info
            log("node %r: peer %r is %s (%s)", self.id, event.name, event.state.value, event.reason)
            self._react(event)
            for hook in self._hooks:
                try:
                    hook(event)
                except Exception:
                    logger.exception("node %r: peer hook %r raised", self.id, hook)
        if events:
            self._peer_changed.set()
            self._peer_changed = trio.Event()

    def _react(self, event: PeerEvent) -> None:
        if event.state is PeerState.UP:
            if event.previous is PeerState.DOWN:
                self._stop_stale(event.name)
            return
        if event.state is not PeerState.DOWN:
            return
        name, why = event.name, event.reason
        if why in {"restarted", "left"}:
            self._abandoned.pop(name, None)  # it runs none of the old children any more
        meta = self._meta.pop(name, _Meta())
        self._fail_pending(name, meta.serves)
        for instance, waiter in self._waiters.items():
            if waiter.node == name and not waiter.done.is_set():
                waiter.finish("node_down", why)
                if why not in {"restarted", "left"}:
                    self._abandoned.setdefault(name, set()).add(instance)
        self._host.owner_down(name, event.node_id)
        prefix = f"otp.{self.cluster}.name."
        names = [subject[len(prefix) :] for subject in meta.serves if subject.startswith(prefix)]
        for monitor in list(self._monitors):
            if monitor.node_id == event.node_id or (
                monitor.kind == "node" and monitor.target == name
            ):
                monitor._fire(name, "node_down")
        if names:
            self._nursery.start_soon(self._names.release_node, name, event.node_id, names)

    def _fail_pending(self, name: str, serves: frozenset[str]) -> None:
        others = set(self._serving)
        for peer, meta in self._meta.items():
            if peer != name:
                others |= meta.serves
        for subject in serves - others:
            for pending in self._pending.get(subject, ()):
                pending.lost_with = name
                pending.scope.cancel()

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        """The messages this node refused on receipt, oldest first."""
        return tuple(self._dead)


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
    roles: Sequence[str] = (),
    codec: str = "json",
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
    and judges nobody; back in touch (or after this process was itself paused), the
    silence is not held against the peers.

    Every node hosts remote children (see :func:`remote_child_spec`) that supervisors on
    other nodes place on it, by its name or by one of its ``roles``. Tasks in the block
    find the node with :func:`current_node`. Calls and casts from this node are encoded
    with ``codec``, ``"json"`` (the default) or ``"msgpack"`` (``otp[msgpack]``); a node
    answers each call in the codec it came in.

    Example::

        async with otp.dist.open_node("nats://127.0.0.1:4222", "worker1") as node:
            await node.export("resize", "resizer")
            await trio.sleep_forever()
    """
    check_part("a node name", name)
    check_part("a cluster name", cluster)
    chosen = codec_named(codec)
    async with (
        open_connection(url, name=name, **connection_options) as connection,
        trio.open_nursery() as nursery,
    ):
        node = Node(
            connection,
            name,
            cluster,
            nursery,
            converter or cattrs.Converter(),
            roles=frozenset(check_part("a role", role) for role in roles),
            heartbeat_interval=heartbeat_interval,
            codec=chosen,
        )
        node._peers = Peers(
            interval=heartbeat_interval,
            suspect_phi=suspect_phi,
            down_phi=down_phi,
            acceptable_pause=acceptable_pause,
            clock=trio.current_time,
        )
        node._hooks = tuple(on_peer)
        token = _current.set(node)  # before any task starts: hosted children see it too
        cancels = connection.subscribe(f"otp.{cluster}.cancel")
        nursery.start_soon(node._watch_cancels, cancels)
        nursery.start_soon(node._hear, connection.subscribe(f"otp.{cluster}.hb.*"))
        nursery.start_soon(node._beat, heartbeat_interval)
        nursery.start_soon(node._judge, heartbeat_interval)
        releases = connection.subscribe(f"otp.{cluster}.names.released")
        nursery.start_soon(node._watch_releases, releases)
        host = node._host
        host.supervisor = await nursery.start(
            functools.partial(otp.dynamic_supervisor, host.template, name=f"otp.dist host {name}")
        )
        nursery.start_soon(host.serve, connection.subscribe(host.control_subject(name, "*")))
        await connection.flush()
        try:
            yield node
        finally:
            _current.reset(token)
            with trio.CancelScope(shield=True), trio.move_on_after(2 * heartbeat_interval + 1):
                await _leave(node)
            nursery.cancel_scope.cancel()


async def _leave(node: Node) -> None:
    """Say goodbye, stop hosted children (owners hear of it), release the global names held."""
    node._host.leaving = True
    goodbye = json.dumps({"node": node.id, "leaving": True}).encode()
    with contextlib.suppress(ConnectionClosed, DistError):
        node.connection.publish(f"otp.{node.cluster}.hb.{node.name}", goodbye)
        await node.connection.flush()  # peers know before the children's ends reach owners
    if node._host.supervisor is not None:
        for info in node._host.supervisor.which_children():
            with contextlib.suppress(otp.OtpError):
                await node._host.supervisor.terminate_child(info.child)
    for name in list(node._names.held):
        await node._names.release(name, f"node {node.name!r} left the cluster")
    with contextlib.suppress(ConnectionClosed, DistError):
        await node.connection.flush()
