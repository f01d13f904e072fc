"""The errors of ``otp.dist``."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import BASE, CALL, DECLARATION, MISUSE, START, classify


@classify(BASE)
class DistError(OtpError):
    """The base class of every ``otp.dist`` error.

    Example::

        try:
            await connection.request("otp.svc.echo", b"hi")
        except otp.dist.DistError as exc:
            log.warning("remote call failed: %s", exc)
    """


@classify(DECLARATION)
class DistDeclarationError(DistError, ValueError):
    """A server URL, a subject or an option was given a wrong value.

    Example::

        with pytest.raises(otp.dist.DistDeclarationError, match="subject"):
            connection.publish("bad subject", b"")
    """


@classify(START)
class ConnectError(DistError):
    """The connection to the NATS server could not be made (refused, timed out, rejected).

    Example::

        with pytest.raises(otp.dist.ConnectError, match="Authorization Violation"):
            async with otp.dist.open_connection("nats://wrong:token@127.0.0.1:4222"):
                pass
    """


@classify(MISUSE)
class ProtocolError(DistError):
    """The server sent something this client cannot parse (or the client misused a frame).

    Example::

        with pytest.raises(otp.dist.ProtocolError, match="control line"):
            parser.feed(b"X" * 10_000)
    """


@classify(MISUSE)
class ConnectionClosed(DistError):
    """The connection is closed (its block ended, the server closed it, or the network failed).

    Example::

        with pytest.raises(otp.dist.ConnectionClosed):
            connection.publish("a", b"after close")
    """


@classify(CALL)
class NoResponders(DistError):
    """A request found nobody subscribed to its subject: the server said so at once.

    Distribution's ``noproc``: it comes in a round trip, not after the timeout.

    Example::

        with pytest.raises(otp.dist.NoResponders):
            await connection.request("otp.svc.nobody", b"", timeout=5)
    """


@classify(CALL)
class RequestTimeout(DistError):
    """A request got no reply within its timeout.

    Example::

        with pytest.raises(otp.dist.RequestTimeout):
            await connection.request("otp.svc.slow", b"", timeout=0.1)
    """


@classify(CALL)
class RemoteError(DistError):
    """A remote call failed on the other side: the error's type, message and traceback.

    Example::

        try:
            await otp.dist.remote(node, "cache").call(("get", key))
        except otp.dist.RemoteError as exc:
            print(exc.type, exc.remote_message)
            print(exc.remote_traceback)
    """

    def __init__(self, message: str, type: str, remote_message: str, remote_traceback: str) -> None:  # noqa: A002
        super().__init__(message)
        self.type = type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback


@classify(CALL)
class NodeDown(DistError):
    """The node that served a call, or hosted a child, went down (reason ``node_down``).

    A pending call to a server that only the lost node served fails with it at once, not at
    its timeout; a remote child whose node is lost exits with it (abnormally, so its
    supervisor restarts it, on another node if its placement allows).

    Example::

        try:
            await node.remote("cache").call("get")
        except otp.dist.NodeDown as exc:
            print(exc.node, "is gone")
    """

    def __init__(self, message: str, node: str) -> None:
        super().__init__(message)
        self.node = node
        self.reason = "node_down"


@classify(START)
class NoNodeAvailable(DistError):
    """No node that is up matches a remote child's placement, so it cannot start now.

    Example::

        with pytest.raises(otp.dist.NoNodeAvailable, match="role 'gpu'"):
            await nursery.start(otp.dist.remote_child, {"start": "m:f", "role": "gpu"})
    """


@classify(CALL)
class RemoteChildFailed(DistError):
    """A remote child ended abnormally on its node (or could not start there).

    Example::

        crashes = [e for e in events if isinstance(e.reason.exception, otp.dist.RemoteChildFailed)]
    """

    def __init__(self, message: str, node: str, kind: str) -> None:
        super().__init__(message)
        self.node = node
        self.kind = kind


@classify(CALL)
class NameTaken(DistError):
    """A global name is already registered, by a node that is up.

    Example::

        with pytest.raises(otp.dist.NameTaken, match="'leader'"):
            await node.register_global("leader", "leader")
    """

    def __init__(self, message: str, owner: str) -> None:
        super().__init__(message)
        self.owner = owner


@classify(CALL)
class PartialBroadcast(DistError):
    """Some members of a group failed or did not answer a broadcast; see ``result``.

    Example::

        try:
            (await node.broadcast("caches", "clear")).check()
        except otp.dist.PartialBroadcast as exc:
            print(exc.result.errors, exc.result.missing)
    """

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result
