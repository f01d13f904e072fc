"""Streams: items per second through a 3-stage pipeline, otp.streams against raw channels.

A producer sends N integers into a pipeline of three stages, ``x + 1``, then ``x * 2``, then
a sink adding them up, with a 100-item buffer in front of each stage. The figure is items per
second, from the first send until the sink has the last item. Variants, each in its own
``trio.run``, one after the other, in an order rotated every run:

* ``raw memory channels`` (the baseline): what a user writes without otp: three
  ``trio.open_memory_channel(100)`` and a task per stage, ``async for`` over its input
  channel, sending into the next one; no restart, no counters, nothing put back on a crash.
* ``otp.streams``: :class:`otp.streams.Pipeline` of ``Map``, ``Map`` and ``Sink``, each with a
  ``Buffer(100)`` (overflow ``wait``), under its own supervisor, counting every item.

Target (issue 12): otp.streams at least 0.7x the raw pipeline's items per second.

Usage::

    python benchmarks/bench_streams.py [--runs 5] [--quick] [--json FILE] [--no-gc] [--items N]
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Awaitable, Callable

import trio
from _common import (
    Figures,
    fmt,
    fmt_ratio,
    format_table,
    gc_policy,
    make_parser,
    median_of_runs,
    positive_int,
    print_environment,
    ratio,
    run_repeatedly,
    write_json,
)

import otp.streams

FULL_ITEMS = 200_000
QUICK_ITEMS = 10_000
BUFFER = 100
TARGET_RATIO = 0.7

RAW, OTP = "raw", "otp"
VARIANTS = (RAW, OTP)
LABELS = {RAW: "raw memory channels", OTP: "otp.streams pipeline"}


def add_one(item: int) -> int:
    return item + 1


def double(item: int) -> int:
    return item * 2


def expected_total(items: int) -> int:
    return 2 * sum(range(1, items + 1))


async def run_raw(items: int) -> None:
    total = 0
    send_1, receive_1 = trio.open_memory_channel[int](BUFFER)
    send_2, receive_2 = trio.open_memory_channel[int](BUFFER)
    send_3, receive_3 = trio.open_memory_channel[int](BUFFER)

    async def stage(
        fn: Callable[[int], int],
        receive: trio.MemoryReceiveChannel[int],
        send: trio.MemorySendChannel[int],
    ) -> None:
        async with receive, send:
            async for item in receive:
                await send.send(fn(item))

    async def sink(receive: trio.MemoryReceiveChannel[int]) -> None:
        nonlocal total
        async with receive:
            async for item in receive:
                total += item

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stage, add_one, receive_1, send_2)
        nursery.start_soon(stage, double, receive_2, send_3)
        nursery.start_soon(sink, receive_3)
        async with send_1:
            for item in range(items):
                await send_1.send(item)
    assert total == expected_total(items)


async def run_otp(items: int) -> None:
    total = 0

    def add(item: int) -> None:
        nonlocal total
        total += item

    buffer = otp.streams.Buffer(BUFFER)
    stages = [
        otp.streams.Map(add_one, buffer=buffer),
        otp.streams.Map(double, buffer=buffer),
        otp.streams.Sink(add, buffer=buffer),
    ]
    async with otp.streams.open_pipeline(stages) as pipeline:
        send = pipeline.send
        for item in range(items):
            await send(item)
    assert total == expected_total(items)


RUNNERS: dict[str, Callable[[int], Awaitable[None]]] = {RAW: run_raw, OTP: run_otp}


def time_variant(variant: str, items: int, *, no_gc: bool) -> float:
    """Items per second of one variant."""
    with gc_policy(disabled=no_gc):
        began = time.perf_counter()
        trio.run(RUNNERS[variant], items)
        elapsed = time.perf_counter() - began
    return items / elapsed


def one_run(index: int, items: int, *, no_gc: bool) -> Figures:
    """Every variant once, in an order rotated every run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for variant in VARIANTS[shift:] + VARIANTS[:shift]:
        figures[f"{variant}.items_per_s"] = time_variant(variant, items, no_gc=no_gc)
    figures[f"{OTP}/{RAW}"] = ratio(figures[f"{OTP}.items_per_s"], figures[f"{RAW}.items_per_s"])
    return figures


def report(medians: Figures, items: int, runs: int) -> str:
    """The table and the verdict."""
    rows = [
        [LABELS[RAW], fmt(medians[f"{RAW}.items_per_s"], 0), fmt_ratio(1.0)],
        [LABELS[OTP], fmt(medians[f"{OTP}.items_per_s"], 0), fmt_ratio(medians[f"{OTP}/{RAW}"])],
    ]
    measured = medians[f"{OTP}/{RAW}"]
    verdict = "met" if measured >= TARGET_RATIO else "MISSED"
    return "\n".join(
        [
            f"Streams: {items:,} items through 3 stages, buffers of {BUFFER}",
            format_table([f"variant (median of {runs} runs)", "items/s", "vs raw"], rows),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            f"Target: otp.streams >= {TARGET_RATIO}x raw -> {measured:.2f}x ({verdict})",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--items", type=positive_int, default=None, help="items per variant")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    items = args.items or (QUICK_ITEMS if args.quick else FULL_ITEMS)
    one_run(0, QUICK_ITEMS, no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(args.runs, functools.partial(one_run, items=items, no_gc=args.no_gc))
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, items, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="streams",
            config={
                "items": items,
                "buffer": BUFFER,
                "runs": args.runs,
                "quick": args.quick,
                "gc_disabled": args.no_gc,
            },
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
