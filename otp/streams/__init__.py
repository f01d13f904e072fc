"""Streams with backpressure: stages joined by bounded buffers, each stage supervised.

A :class:`Pipeline` is declared from stages (:class:`Map`, :class:`Filter`, :class:`Batch`,
:class:`RateLimit`, :class:`Sink`), each with an input :class:`Buffer` whose
:class:`Overflow` policy says what happens when it is full: wait, drop the newest, drop the
oldest, fail the pipeline, or refuse at once. It runs as a child
(:meth:`Pipeline.child_spec`) or for a block (:func:`open_pipeline`).

The path of an item, by module: ``_pipeline`` takes it into the first buffer (``_buffer``);
each stage's loop (``_stages``) takes it, works on it and puts what it made into the next
buffer; a stage that crashes puts back what it held and is restarted by the pipeline's
supervisor. ``_bucket`` is the pure token bucket behind :class:`RateLimit`. It uses only the
public ``otp`` API.

Example::

    pipeline = otp.streams.Pipeline(
        "ingest", [otp.streams.Map(parse), otp.streams.Sink(store)]
    )
    async with otp.open_supervisor([pipeline.child_spec()]):
        await pipeline.send(line)
"""

from ._bucket import TokenBucket as TokenBucket
from ._buffer import Buffer as Buffer
from ._buffer import BufferStatistics as BufferStatistics
from ._buffer import Overflow as Overflow
from ._errors import BufferFull as BufferFull
from ._errors import BufferOverflow as BufferOverflow
from ._errors import PipelineFailed as PipelineFailed
from ._errors import StreamClosed as StreamClosed
from ._errors import StreamsDeclarationError as StreamsDeclarationError
from ._errors import StreamsError as StreamsError
from ._open import open_pipeline as open_pipeline
from ._pipeline import DeadLetter as DeadLetter
from ._pipeline import Pipeline as Pipeline
from ._pipeline import PipelineStatistics as PipelineStatistics
from ._pipeline import StageStatistics as StageStatistics
from ._stages import Batch as Batch
from ._stages import Filter as Filter
from ._stages import Map as Map
from ._stages import RateLimit as RateLimit
from ._stages import Sink as Sink
from ._stages import Stage as Stage

__all__ = [
    "Batch",
    "Buffer",
    "BufferFull",
    "BufferOverflow",
    "BufferStatistics",
    "DeadLetter",
    "Filter",
    "Map",
    "Overflow",
    "Pipeline",
    "PipelineFailed",
    "PipelineStatistics",
    "RateLimit",
    "Sink",
    "Stage",
    "StageStatistics",
    "StreamClosed",
    "StreamsDeclarationError",
    "StreamsError",
    "TokenBucket",
    "open_pipeline",
]
