"""Event bus fan-out: publish throughput with 1, 10 and 100 subscribers.

One publisher task publishes N events, checkpointing after each; S subscriber tasks each
read every event with ``async for``. The figure is deliveries per second (N x S over the wall
time from the first publish until the last subscriber has read the last event). Variants,
each in its own ``trio.run``, one after the other, in an order rotated every run:

* ``raw channel fan-out`` (the baseline): S unbounded ``trio.open_memory_channel`` pairs; the
  publisher ``send_nowait``s each event (a small tuple) into every send channel, then
  ``await trio.lowlevel.checkpoint()``.
* ``otp.events``: ``await bus.publish(type, payload, source=...)`` on an
  :class:`otp.events.EventBus`; each subscriber holds ``bus.subscribe(buffer=math.inf)``.
  The bus builds an :class:`otp.events.Event` (id, time, type, source, payload) per publish.
* ``otp.events, filtered``: every subscriber subscribes with ``types="tick"`` and
  ``source="bench/**"`` (all events match, so the work is the same plus the filter).

Target (issue 10): otp.events at least 0.5x the raw fan-out's deliveries per second.

Usage::

    python benchmarks/bench_events.py [--runs 5] [--quick] [--json FILE] [--no-gc]
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Awaitable, Callable

import trio
import trio.testing
from _common import (
    Figures,
    fmt,
    fmt_ratio,
    format_table,
    gc_policy,
    make_parser,
    median_of_runs,
    print_environment,
    ratio,
    run_repeatedly,
    write_json,
)

import otp.events

TARGET_RATIO = 0.5
FULL_SIZES = ((1, 50_000), (10, 10_000), (100, 2_000))  # (subscribers, events)
QUICK_SIZES = ((1, 5_000), (10, 1_000), (100, 200))

RAW = "raw"
OTP = "otp"
OTP_FILTERED = "otp_filtered"
VARIANTS = (RAW, OTP, OTP_FILTERED)
LABELS = {RAW: "raw channel fan-out", OTP: "otp.events", OTP_FILTERED: "otp.events, filtered"}


async def run_raw(subscribers: int, events: int) -> None:
    """Fan out through one memory channel per subscriber."""
    channels = [trio.open_memory_channel[tuple[int, str]](math.inf) for _ in range(subscribers)]
    sends = [send for send, _ in channels]

    async def subscriber(receive: trio.MemoryReceiveChannel[tuple[int, str]]) -> None:
        seen = 0
        async for _ in receive:
            seen += 1
            if seen == events:
                return

    async with trio.open_nursery() as nursery:
        for _, receive in channels:
            nursery.start_soon(subscriber, receive)
        await trio.testing.wait_all_tasks_blocked()
        for n in range(events):
            item = (n, "tick")
            for send in sends:
                send.send_nowait(item)
            await trio.lowlevel.checkpoint()


async def run_otp(subscribers: int, events: int, *, filtered: bool) -> None:
    """Fan out through an otp.events bus."""
    bus = otp.events.EventBus()
    options = {"types": "tick", "source": "bench/**"} if filtered else {}

    async def subscriber(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with bus.subscribe(buffer=math.inf, **options) as subscription:  # type: ignore[arg-type]
            task_status.started()
            seen = 0
            async for _ in subscription:
                seen += 1
                if seen == events:
                    return

    async with trio.open_nursery() as nursery:
        for _ in range(subscribers):
            await nursery.start(subscriber)
        await trio.testing.wait_all_tasks_blocked()
        for n in range(events):
            await bus.publish("tick", n, source="bench/publisher")


def runner(variant: str) -> Callable[[int, int], Awaitable[None]]:
    """The coroutine function of one variant."""
    if variant == RAW:
        return run_raw
    return functools.partial(run_otp, filtered=variant == OTP_FILTERED)


def time_variant(variant: str, subscribers: int, events: int, *, no_gc: bool) -> float:
    """Deliveries per second of one variant at one size."""
    with gc_policy(disabled=no_gc):
        began = time.perf_counter()
        trio.run(runner(variant), subscribers, events)
        elapsed = time.perf_counter() - began
    return subscribers * events / elapsed


def one_run(index: int, sizes: tuple[tuple[int, int], ...], *, no_gc: bool) -> Figures:
    """Every variant at every size, the variants in an order rotated every run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for subscribers, events in sizes:
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            key = f"{variant}.{subscribers}.deliveries_per_s"
            figures[key] = time_variant(variant, subscribers, events, no_gc=no_gc)
        for variant in (OTP, OTP_FILTERED):
            figures[f"{variant}/{RAW}.{subscribers}"] = ratio(
                figures[f"{variant}.{subscribers}.deliveries_per_s"],
                figures[f"{RAW}.{subscribers}.deliveries_per_s"],
            )
    return figures


def report(medians: Figures, sizes: tuple[tuple[int, int], ...], runs: int) -> str:
    """The table and the verdict."""
    headers = [f"variant (deliveries/s, median of {runs} runs)"]
    headers += [f"{s} sub{'s' if s > 1 else ''} ({e:,} events)" for s, e in sizes]
    rows = [
        [LABELS[variant]] + [fmt(medians[f"{variant}.{s}.deliveries_per_s"], 0) for s, _ in sizes]
        for variant in VARIANTS
    ]
    rows.extend(
        [f"{LABELS[variant]} / raw"]
        + [fmt_ratio(medians[f"{variant}/{RAW}.{s}"]) for s, _ in sizes]
        for variant in (OTP, OTP_FILTERED)
    )
    lowest = min(medians[f"{OTP}/{RAW}.{s}"] for s, _ in sizes)
    verdict = "met" if lowest >= TARGET_RATIO else "MISSED"
    return "\n".join(
        [
            "Event bus fan-out: one publisher, every subscriber reads every event",
            format_table(headers, rows),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            f"Target: otp.events >= {TARGET_RATIO}x raw at every size -> {lowest:.2f}x ({verdict})",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    one_run(0, QUICK_SIZES, no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(args.runs, functools.partial(one_run, sizes=sizes, no_gc=args.no_gc))
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, sizes, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="events",
            config={
                "sizes": [list(size) for size in sizes],
                "runs": args.runs,
                "quick": args.quick,
                "gc_disabled": args.no_gc,
                "buffer": "inf",
            },
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
