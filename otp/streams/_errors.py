"""The errors of ``otp.streams``."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import BASE, CHILD_FAILURE, DECLARATION, MISUSE, OVERLOAD, classify


@classify(BASE)
class StreamsError(OtpError):
    """The base class of every ``otp.streams`` error.

    Example::

        try:
            await pipeline.send(item)
        except otp.streams.StreamsError as exc:
            log.warning("not taken: %s", exc)
    """


@classify(DECLARATION)
class StreamsDeclarationError(StreamsError, ValueError):
    """A pipeline, a stage or a buffer was declared with a wrong value.

    Example::

        with pytest.raises(otp.streams.StreamsDeclarationError, match="size"):
            otp.streams.Buffer(size=0)
    """


@classify(OVERLOAD)
class BufferFull(StreamsError):
    """A full ``fail_fast`` buffer (or ``send_nowait`` on a full ``wait`` one) refused an item.

    The item was not taken; the sender decides. Inside a pipeline the sender is the stage
    upstream, which crashes and is restarted with the item it held put back.

    Example::

        try:
            pipeline.send_nowait(event)
        except otp.streams.BufferFull:
            shed(event)
    """


@classify(CHILD_FAILURE)
class BufferOverflow(StreamsError):
    """A full ``fail`` buffer got one more item: the item is refused and the pipeline fails.

    The sender gets this error, and so does the pipeline's supervisor (the pipeline child
    crashes with it). The items already in the buffers stay there and flow again when the
    pipeline is restarted.

    Example::

        with pytest.raises(otp.streams.BufferOverflow, match="'0-parse'"):
            await pipeline.send(event)
    """


@classify(MISUSE)
class StreamClosed(StreamsError):
    """An item was sent to a pipeline after :meth:`Pipeline.close`.

    Example::

        pipeline.close()
        with pytest.raises(otp.streams.StreamClosed):
            await pipeline.send(event)
    """


@classify(CHILD_FAILURE)
class PipelineFailed(StreamsError):
    """A pipeline's stages crashed more often than its restart intensity allows.

    The cause is the inner supervisor's :class:`otp.RestartIntensityExceeded`. It is an
    abnormal exit, so a supervisor restarts a (transient) pipeline child, whose buffered
    items are still there.

    Example::

        with pytest.raises(otp.streams.PipelineFailed, match="'0-parse'"):
            await pipeline.run()
    """
