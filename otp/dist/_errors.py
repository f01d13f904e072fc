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
