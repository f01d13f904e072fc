"""A Trio-native NATS core client: one TCP connection, a reader and a writer task in a nursery.

:func:`open_connection` connects (INFO, CONNECT, PING/PONG), then runs for the ``async with``
block: the reader parses frames (``_protocol``) and hands messages to subscriptions and
waiting requests, the writer sends what :meth:`Connection.publish` buffered (many small
messages go out in one write), the pinger checks the server is still there. A lost
connection is an error out of the block, as a crashed task in a nursery is.
"""

from __future__ import annotations

import collections
import itertools
import logging
import random as _random
import secrets
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, final

import attrs
import trio

import otp

from . import _nkeys as nkeys
from ._errors import (
    ConnectError,
    ConnectionClosed,
    DistDeclarationError,
    NoResponders,
    ProtocolError,
    RequestTimeout,
)
from ._protocol import (
    PING,
    PONG,
    Err,
    Info,
    Msg,
    Parser,
    Ping,
    Pong,
    check_subject,
    encode_connect,
    encode_headers,
    encode_pub,
    encode_sub,
    encode_unsub,
)

__all__ = ["Connection", "ConnectionStatistics", "Subscription", "open_connection"]

logger = logging.getLogger("otp.dist")

MAX_PENDING_BYTES = 64 * 1024 * 1024
DEFAULT_RECONNECT_BACKOFF = otp.Backoff(min=0.1, max=5.0, multiplier=2.0, jitter=0.2)
_READ_SIZE = 65536


@final
@attrs.frozen
class ConnectionStatistics:
    """Messages and bytes in and out, messages dropped by full subscriptions, reconnections.

    Example::

        stats = connection.statistics()
        print(stats.messages_in, stats.dropped)
    """

    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    dropped: int
    reconnects: int


@final
class Subscription:
    """Messages on a subject (pattern), in arrival order: ``async for message in sub``.

    It holds up to ``max_pending`` messages not yet taken; beyond that new ones are dropped
    and counted in ``dropped`` (NATS's "slow consumer"), so one slow reader cannot grow
    memory without bound. As an ``async with``, it unsubscribes at the end.

    Example::

        async with connection.subscribe("otp.main.hb.*") as beats:
            async for message in beats:
                print(message.subject)
    """

    def __init__(
        self, connection: Connection, sid: int, subject: str, queue: str | None, max_pending: int
    ) -> None:
        self.connection = connection
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self.dropped = 0
        self._send, self._receive = trio.open_memory_channel[Msg](max_pending)

    def __repr__(self) -> str:
        return f"<otp.dist.Subscription {self.subject!r} sid={self.sid}>"

    def _deliver(self, message: Msg) -> None:
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            self.dropped += 1
            self.connection._dropped += 1
        except trio.ClosedResourceError:
            pass

    async def next(self) -> Msg:
        """The next message; :class:`ConnectionClosed` once unsubscribed or disconnected."""
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            msg = f"subscription {self.subject!r} is closed"
            raise ConnectionClosed(msg) from None

    def __aiter__(self) -> AsyncIterator[Msg]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Msg]:
        while True:
            try:
                message = await self._receive.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return
            yield message

    def unsubscribe(self) -> None:
        """Stop receiving; messages already held can still be read."""
        self.connection._unsubscribe(self)

    def _close(self) -> None:
        self._send.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.unsubscribe()


class _Request:
    __slots__ = ("done", "lost", "reply")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.reply: Msg | None = None
        self.lost: BaseException | None = None


def _parse_url(url: str) -> tuple[str, int, dict[str, str]]:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("nats", "tls") or not parsed.hostname:
        msg = f"a NATS server URL looks like 'nats://host:4222' or 'tls://host:4222' (got {url!r})"
        raise DistDeclarationError(msg)
    auth: dict[str, str] = {}
    if parsed.username and parsed.password is not None:
        auth = {
            "user": urllib.parse.unquote(parsed.username),
            "pass": urllib.parse.unquote(parsed.password),
        }
    elif parsed.username:
        auth = {"auth_token": urllib.parse.unquote(parsed.username)}
    return parsed.hostname, parsed.port or 4222, auth


@final
class Connection:
    """One connection to a NATS server; made by :func:`open_connection`.

    Example::

        async with otp.dist.open_connection(url) as connection:
            connection.publish("otp.main.events.started", b"node1")
            reply = await connection.request("otp.main.svc.echo", b"hi", timeout=2)
    """

    def __init__(self, stream: trio.abc.Stream, info: Info, parser: Parser, url: str) -> None:
        self.url = url
        self.info = info
        self._stream = stream
        self._parser = parser
        self._pending = bytearray()
        self._wake_writer = trio.lowlevel.ParkingLot()
        self._sids = itertools.count(1)
        self._subscriptions: dict[int, Subscription] = {}
        self._requests: dict[str, _Request] = {}
        self._pongs: collections.deque[trio.Event] = collections.deque()
        self._inbox_prefix = f"_INBOX.{secrets.token_hex(11)}"
        self._inbox_sid: int | None = None
        self._tokens = itertools.count(1)
        self._closed: BaseException | None = None
        self._pings_out = 0
        self._in_messages = self._out_messages = self._in_bytes = self._out_bytes = 0
        self._dropped = 0
        self._connected = True
        self._reconnects = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed is not None else "open"
        return f"<otp.dist.Connection {self.url!r} ({state})>"

    # -- sending -------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._closed is not None:
            msg = f"the connection to {self.url} is closed"
            raise ConnectionClosed(msg) from self._closed
        if len(self._pending) + len(data) > MAX_PENDING_BYTES:
            msg = f"more than {MAX_PENDING_BYTES} bytes wait to be sent to {self.url}"
            raise ConnectionClosed(msg)
        self._pending += data
        self._wake_writer.unpark()

    def publish(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        reply: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send ``payload`` to ``subject`` (queued at once, sent by the writer task).

        Raises :class:`DistDeclarationError` for a bad subject or a payload over the server's
        ``max_payload``, :class:`ConnectionClosed` once closed.

        Example::

            connection.publish("otp.main.node1.cache", b'{"cast": "clear"}')
        """
        self._publish_checked(
            check_subject(subject),
            payload,
            None if reply is None else check_subject(reply),
            headers,
        )

    def _publish_checked(
        self,
        subject: bytes,
        payload: bytes,
        reply: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        given: object = payload
        if not isinstance(given, bytes | bytearray | memoryview):
            msg = f"payload must be bytes (got {type(payload).__name__})"
            raise DistDeclarationError(msg)
        head = None if headers is None else encode_headers(headers)
        size = len(payload) + (0 if head is None else len(head))
        if size > self.info.max_payload:
            limit = self.info.max_payload
            msg = f"a message of {size} bytes is over the server's max_payload of {limit}"
            raise DistDeclarationError(msg)
        frame = encode_pub(subject, bytes(payload), reply=reply, headers=head)
        self._write(frame)
        self._out_messages += 1
        self._out_bytes += len(payload)

    async def flush(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109  (a round trip's)
        """Wait until the server has processed everything sent so far (a PING round trip).

        Example::

            connection.publish("a", b"x")
            await connection.flush()
        """
        pong = trio.Event()
        self._pongs.append(pong)
        self._write(PING)
        with trio.move_on_after(timeout) as waited:
            await pong.wait()
        if waited.cancelled_caught:
            msg = f"the server at {self.url} did not answer a PING within {timeout:g} s"
            raise RequestTimeout(msg)
        self._check_open()
        if not self._connected:
            msg = f"the connection to {self.url} was lost during the flush; it is reconnecting"
            raise ConnectionClosed(msg)

    # -- receiving -----------------------------------------------------------------------

    def subscribe(
        self, subject: str, *, queue: str | None = None, max_pending: int = 10_000
    ) -> Subscription:
        """Receive the messages on ``subject`` (wildcards ``*`` and ``>`` allowed).

        With ``queue``, each message goes to one member of the queue group only (a pool of
        servers sharing the work).

        Example::

            async with connection.subscribe("otp.main.svc.echo", queue="echo") as requests:
                async for request in requests:
                    connection.publish(request.reply, request.payload)
        """
        encoded = check_subject(subject, wildcards=True)
        group = None if queue is None else check_subject(queue)
        pending: object = max_pending
        if isinstance(pending, bool) or not isinstance(pending, int) or pending < 1:
            msg = f"max_pending must be an int >= 1 (got {max_pending!r})"
            raise DistDeclarationError(msg)
        sid = next(self._sids)
        self._write(encode_sub(encoded, sid, group))
        subscription = Subscription(self, sid, subject, queue, max_pending)
        self._subscriptions[sid] = subscription
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        if self._subscriptions.pop(subscription.sid, None) is None:
            return
        subscription._close()
        if self._closed is None:
            self._write(encode_unsub(subscription.sid))

    def new_inbox(self) -> str:
        """A subject nobody else uses, for replies.

        Example::

            inbox = connection.new_inbox()
        """
        return f"{self._inbox_prefix}.{next(self._tokens)}"

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109  (the request's, as in NATS)
    ) -> Msg:
        """Publish with a reply subject and wait for the first reply.

        Raises:
            NoResponders: Nobody is subscribed to ``subject`` (known in one round trip).
            RequestTimeout: No reply within ``timeout`` seconds.

        Example::

            reply = await connection.request("otp.main.svc.echo", b"hi", timeout=2)
            print(reply.payload)
        """
        if self._inbox_sid is None:
            sid = next(self._sids)
            self._write(encode_sub(check_subject(f"{self._inbox_prefix}.*", wildcards=True), sid))
            self._inbox_sid = sid
        token = str(next(self._tokens))
        waiter = _Request()
        self._requests[token] = waiter
        try:
            self._publish_checked(
                check_subject(subject), payload, f"{self._inbox_prefix}.{token}".encode(), headers
            )
            with trio.move_on_after(timeout):
                await waiter.done.wait()
        finally:
            self._requests.pop(token, None)
        reply = waiter.reply
        if reply is None:
            self._check_open()
            if waiter.lost is not None:
                msg = f"the connection to {self.url} was lost while waiting: {waiter.lost}"
                raise ConnectionClosed(msg) from waiter.lost
            msg = f"no reply to a request on {subject!r} within {timeout:g} s"
            raise RequestTimeout(msg)
        if reply.status == 503:
            msg = f"no responders on {subject!r}: nobody is subscribed to it"
            raise NoResponders(msg)
        return reply

    def _check_open(self) -> None:
        if self._closed is not None:
            msg = f"the connection to {self.url} was lost: {self._closed}"
            raise ConnectionClosed(msg) from self._closed

    # -- the tasks -----------------------------------------------------------------------

    async def _write_loop(self) -> None:
        stream = self._stream
        while True:
            while not self._pending:
                await self._wake_writer.park()
            data = bytes(self._pending)
            self._pending.clear()
            await stream.send_all(data)

    async def _read_loop(self, first: list[Any]) -> None:
        self._dispatch(first)
        stream = self._stream
        parser = self._parser
        while True:
            data = bytes(await stream.receive_some(_READ_SIZE))  # TLS gives a bytearray
            if not data:
                msg = f"the server at {self.url} closed the connection"
                raise ConnectionClosed(msg)
            self._in_bytes += len(data)
            self._dispatch(parser.feed(data))

    def _dispatch(self, frames: list[Any]) -> None:
        for frame in frames:
            if type(frame) is Msg:
                self._in_messages += 1
                if frame.sid == self._inbox_sid:
                    waiter = self._requests.get(frame.subject.rpartition(".")[2])
                    if waiter is not None and waiter.reply is None:
                        waiter.reply = frame
                        waiter.done.set()
                    continue
                subscription = self._subscriptions.get(frame.sid)
                if subscription is not None:
                    subscription._deliver(frame)
            elif type(frame) is Ping:
                self._write(PONG)
            elif type(frame) is Pong:
                self._pings_out = 0
                if self._pongs:
                    self._pongs.popleft().set()
            elif type(frame) is Err:
                if "permissions violation" in frame.message.lower():
                    logger.warning("NATS server at %s: %s", self.url, frame.message)
                    continue
                msg = f"the server at {self.url} closed the connection: {frame.message}"
                raise ConnectionClosed(msg)
            elif type(frame) is Info:
                self.info = frame

    async def _ping_loop(self, interval: float, max_out: int) -> None:
        while True:
            await trio.sleep(interval)
            if self._pings_out >= max_out:
                msg = f"the server at {self.url} missed {max_out} PINGs in a row"
                raise ConnectionClosed(msg)
            self._pings_out += 1
            self._write(PING)

    def _lose(self, error: BaseException) -> None:
        """The link went down: fail what waits for a reply; keep subscriptions and output."""
        self._connected = False
        self._pings_out = 0
        for token, waiter in list(self._requests.items()):
            del self._requests[token]
            waiter.lost = error
            waiter.done.set()
        while self._pongs:
            self._pongs.popleft().set()

    def _resume(self, stream: trio.abc.Stream, info: Info, parser: Parser) -> None:
        """A new link: renew every subscription ahead of what was published meanwhile."""
        self._stream = stream
        self.info = info
        self._parser = parser
        renewals = [
            encode_sub(
                check_subject(sub.subject, wildcards=True),
                sid,
                None if sub.queue is None else check_subject(sub.queue),
            )
            for sid, sub in self._subscriptions.items()
        ]
        if self._inbox_sid is not None:
            renewals.append(
                encode_sub(
                    check_subject(f"{self._inbox_prefix}.*", wildcards=True), self._inbox_sid
                )
            )
        self._pending[:0] = b"".join(renewals)
        self._connected = True
        self._reconnects += 1
        self._wake_writer.unpark()

    def _fail(self, error: BaseException) -> None:
        if self._closed is not None:
            return
        self._closed = error
        for waiter in self._requests.values():
            waiter.done.set()
        for pong in self._pongs:
            pong.set()
        for subscription in list(self._subscriptions.values()):
            subscription._close()
        self._subscriptions.clear()

    # -- looking inside ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the connection is closed for good."""
        return self._closed is not None

    @property
    def connected(self) -> bool:
        """Whether the link to the server is up now (``False`` while reconnecting)."""
        return self._connected and self._closed is None

    def statistics(self) -> ConnectionStatistics:
        """Counts since the connection opened."""
        return ConnectionStatistics(
            self._in_messages,
            self._out_messages,
            self._in_bytes,
            self._out_bytes,
            self._dropped,
            self._reconnects,
        )


async def _handshake(
    url: str,
    name: str,
    auth: Mapping[str, str],
    stream: trio.abc.Stream,
    tls: ssl.SSLContext | None,
    nkey_seed: str | None,
) -> tuple[trio.abc.Stream, Info, Parser, list[Any]]:
    parser = Parser()
    frames: list[Any] = []
    while not frames:
        data = bytes(await stream.receive_some(_READ_SIZE))
        if not data:
            msg = f"the server at {url} closed the connection before INFO"
            raise ConnectError(msg)
        frames = parser.feed(data)
    info = frames.pop(0)
    if type(info) is not Info:
        msg = f"the server at {url} did not start with INFO (got {info!r}); is it NATS?"
        raise ConnectError(msg)
    secure = url.startswith("tls://") or bool(info.options.get("tls_required"))
    if secure:
        # NATS upgrades after INFO: the TLS handshake, then CONNECT inside it.
        context = tls if tls is not None else ssl.create_default_context()
        host = urllib.parse.urlsplit(url).hostname
        stream = trio.SSLStream(stream, context, server_hostname=host)
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError as error:
            cause = error.__cause__ or error
            msg = f"no TLS with the server at {url}: {cause}"
            raise ConnectError(msg) from error
    options: dict[str, object] = {
        "verbose": False,
        "pedantic": False,
        "tls_required": secure,
        "name": name,
        "lang": "python-otp",
        "version": "0.1",
        "protocol": 1,
        "headers": True,
        "no_responders": True,
        **auth,
    }
    if nkey_seed is not None:
        nonce = info.options.get("nonce")
        if not isinstance(nonce, str):
            msg = f"the server at {url} sent no nonce to sign: is nkey auth configured there?"
            raise ConnectError(msg)
        options["nkey"] = nkeys.public_key(nkey_seed)
        options["sig"] = nkeys.sign(nkey_seed, nonce)
    await stream.send_all(encode_connect(options) + PING)
    while True:
        for index, frame in enumerate(frames):
            if type(frame) is Pong:
                return stream, info, parser, frames[index + 1 :]
            if type(frame) is Err:
                msg = f"the server at {url} refused the connection: {frame.message}"
                raise ConnectError(msg)
        data = bytes(await stream.receive_some(_READ_SIZE))
        if not data:
            msg = f"the server at {url} closed the connection during CONNECT"
            raise ConnectError(msg)
        frames = parser.feed(data)


async def _dial(
    url: str,
    name: str,
    auth: Mapping[str, str],
    connect_timeout: float,
    tls: ssl.SSLContext | None,
    nkey_seed: str | None,
) -> tuple[trio.abc.Stream, Info, Parser, list[Any]]:
    """Open the TCP stream (and TLS) and do the handshake, or raise :class:`ConnectError`."""
    host, port, _ = _parse_url(url)
    try:
        with trio.fail_after(connect_timeout):
            tcp = await trio.open_tcp_stream(host, port)
            try:
                stream, info, parser, first = await _handshake(url, name, auth, tcp, tls, nkey_seed)
            except BaseException:
                await trio.aclose_forcefully(tcp)
                raise
    except OSError as error:
        msg = f"cannot connect to the NATS server at {url}: {error}"
        raise ConnectError(msg) from error
    except trio.TooSlowError:
        msg = f"no NATS handshake with {url} within {connect_timeout:g} s"
        raise ConnectError(msg) from None
    except ProtocolError as error:
        msg = f"the server at {url} does not speak NATS: {error}"
        raise ConnectError(msg) from error
    return stream, info, parser, first


_LOST = (
    ConnectionClosed,
    ProtocolError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    OSError,
)


@asynccontextmanager
async def open_connection(
    url: str = "nats://127.0.0.1:4222",
    *,
    name: str = "otp",
    connect_timeout: float = 5.0,
    ping_interval: float = 20.0,
    max_pings_out: int = 2,
    reconnect: bool = True,
    max_reconnects: int | None = 60,
    reconnect_backoff: otp.Backoff = DEFAULT_RECONNECT_BACKOFF,
    ssl_context: ssl.SSLContext | None = None,
    nkey_seed: str | None = None,
) -> AsyncIterator[Connection]:
    """Connect to the NATS server at ``url`` for the ``async with`` block.

    ``nats://user:password@host:port`` or ``nats://token@host:port`` authenticate. A
    ``tls://`` URL, or a server whose INFO requires TLS, gets TLS after INFO (as NATS
    does it) with ``ssl_context`` (the system's trust store by default; give one that
    trusts your CA, and with a client certificate for mutual TLS). With ``nkey_seed`` (a
    user's ``SU...`` seed; ``otp[nkeys]``) it signs the server's nonce. The
    connection's tasks run in a nursery of the block: leaving it flushes what was published
    and closes the connection.

    When the connection is lost (the server gone, or ``max_pings_out`` PINGs unanswered),
    the requests waiting for a reply fail at once with :class:`ConnectionClosed`, and with
    ``reconnect`` it dials again after ``reconnect_backoff`` delays, up to
    ``max_reconnects`` times in a row (``None``: forever): once back, its subscriptions are
    renewed and what was published meanwhile is sent. Without ``reconnect``, or once the
    attempts are spent, :class:`ConnectionClosed` comes out of the block, as from any crashed
    task.

    Raises:
        ConnectError: The first connection was refused, timed out after
            ``connect_timeout``, or rejected (bad credentials), with the server's words.

    Example::

        async with otp.dist.open_connection("nats://127.0.0.1:4222") as connection:
            await connection.flush()
    """
    _, _, auth = _parse_url(url)
    if nkey_seed is not None:
        nkeys.public_key(nkey_seed)  # a bad seed fails here, not at the handshake
    stream, info, parser, first = await _dial(
        url, name, auth, connect_timeout, ssl_context, nkey_seed
    )
    connection = Connection(stream, info, parser, url)

    async def run_tasks(first: list[Any]) -> None:
        async with trio.open_nursery() as tasks:
            tasks.start_soon(connection._read_loop, first)
            tasks.start_soon(connection._write_loop)
            tasks.start_soon(connection._ping_loop, ping_interval, max_pings_out)

    async def maintain() -> None:
        while True:
            lost: BaseException | None = None
            try:
                await run_tasks(first_frames[0])
            except* _LOST as group:
                lost = group.exceptions[0]
            assert lost is not None
            await trio.aclose_forcefully(connection._stream)
            if not reconnect:
                connection._fail(lost)
                raise lost
            logger.warning("lost the connection to %s: %r", url, lost)
            connection._lose(lost)
            attempts = 0
            while True:
                attempts += 1
                if max_reconnects is not None and attempts > max_reconnects:
                    msg = f"gave up reconnecting to {url} after {max_reconnects} attempts"
                    error = ConnectionClosed(msg)
                    connection._fail(error)
                    raise error from lost
                await trio.sleep(reconnect_backoff.delay(attempts - 1, _random.random))
                try:
                    stream, info, parser, frames = await _dial(
                        url, name, auth, connect_timeout, ssl_context, nkey_seed
                    )
                except ConnectError as refused:
                    logger.warning("reconnecting to %s: %s", url, refused)
                    continue
                connection._resume(stream, info, parser)
                first_frames[0] = frames
                logger.info("reconnected to %s after %d attempts", url, attempts)
                break

    first_frames = [first]
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(maintain)
            try:
                yield connection
                if connection.connected:
                    await connection.flush()  # what the block published reaches the server
            finally:
                connection._fail(ConnectionClosed("closed by its owner"))
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(connection._stream)
