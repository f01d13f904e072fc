"""Middleware: the cost of a server's middleware chain per call.

One client makes N sequential calls to a server that replies with its request at once; the
figure is calls per second. Variants, each in its own ``trio.run``, one after the other, in
an order rotated every run:

* ``raw channel`` (the baseline): a raw Trio task reading ``(request, reply_send)`` from a
  memory channel and answering on a one-slot reply channel per call.
* ``otp, no middleware``: a plain ``otp.GenServer``.
* ``otp, middleware = ()``: the same server declaring an empty chain; nothing is installed,
  so it must measure the same as the plain server (issue 12: zero middleware costs nothing).
* ``otp, 1 pass-through``: one :class:`otp.Middleware` that calls ``handler(message)``.
* ``otp, 3 ready-made``: ``LogMessages`` (its level off), ``Timing`` and ``Validate``.

Usage::

    python benchmarks/bench_middleware.py [--runs 5] [--quick] [--json FILE] [--no-gc] [--calls N]
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

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

import otp
import otp.middleware

FULL_CALLS = 50_000
QUICK_CALLS = 5_000
TOLERANCE = 0.03  # "nothing measurable": within the noise of this machine

RAW, PLAIN, EMPTY, ONE, THREE = "raw", "plain", "empty", "one", "three"
VARIANTS = (RAW, PLAIN, EMPTY, ONE, THREE)
LABELS = {
    RAW: "raw channel",
    PLAIN: "otp, no middleware",
    EMPTY: "otp, middleware = ()",
    ONE: "otp, 1 pass-through",
    THREE: "otp, 3 ready-made",
}


class Plain(otp.GenServer[int, int]):
    async def handle_call(self, request: int, caller: otp.Caller[int]) -> int:
        return request


class Empty(Plain):
    middleware = ()


class PassThrough(otp.Middleware):
    async def __call__(self, message: otp.Message, handler: otp.Handler) -> object:
        return await handler(message)


class One(Plain):
    middleware = (PassThrough(),)


def accept(request: object) -> object:
    if not isinstance(request, int):
        raise TypeError("requests are ints")
    return request


class Three(Plain):
    middleware = (
        otp.middleware.LogMessages(level=logging.DEBUG),  # the logger is at WARNING
        otp.middleware.Timing(),
        otp.middleware.Validate(call=accept),
    )


async def run_raw(calls: int) -> None:
    send, receive = trio.open_memory_channel[tuple[int, trio.MemorySendChannel[int]]](0)

    async def serve() -> None:
        async for request, reply in receive:
            reply.send_nowait(request)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        for n in range(calls):
            reply_send, reply_receive = trio.open_memory_channel[int](1)
            await send.send((n, reply_send))
            assert await reply_receive.receive() == n
        nursery.cancel_scope.cancel()


def otp_runner(cls: type[otp.GenServer[Any, Any]]) -> Callable[[int], Awaitable[None]]:
    async def run(calls: int) -> None:
        async with otp.open_supervisor([cls.child_spec(name="echo")]) as sup:
            ref = sup.get_child("echo").value
            call = ref.call
            for n in range(calls):
                assert await call(n) == n

    return run


RUNNERS: dict[str, Callable[[int], Awaitable[None]]] = {
    RAW: run_raw,
    PLAIN: otp_runner(Plain),
    EMPTY: otp_runner(Empty),
    ONE: otp_runner(One),
    THREE: otp_runner(Three),
}


def time_variant(variant: str, calls: int, *, no_gc: bool) -> float:
    """Calls per second of one variant."""
    with gc_policy(disabled=no_gc):
        began = time.perf_counter()
        trio.run(RUNNERS[variant], calls)
        elapsed = time.perf_counter() - began
    return calls / elapsed


def one_run(index: int, calls: int, *, no_gc: bool) -> Figures:
    """Every variant once, in an order rotated every run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for variant in VARIANTS[shift:] + VARIANTS[:shift]:
        figures[f"{variant}.calls_per_s"] = time_variant(variant, calls, no_gc=no_gc)
    for variant in VARIANTS[1:]:
        figures[f"{variant}/{RAW}"] = ratio(
            figures[f"{variant}.calls_per_s"], figures[f"{RAW}.calls_per_s"]
        )
        figures[f"{variant}/{PLAIN}"] = ratio(
            figures[f"{variant}.calls_per_s"], figures[f"{PLAIN}.calls_per_s"]
        )
    return figures


def report(medians: Figures, calls: int, runs: int) -> str:
    """The table and the verdict."""
    rows = [[LABELS[RAW], fmt(medians[f"{RAW}.calls_per_s"], 0), fmt_ratio(1.0), ""]]
    rows.extend(
        [
            LABELS[v],
            fmt(medians[f"{v}.calls_per_s"], 0),
            fmt_ratio(medians[f"{v}/{RAW}"]),
            fmt_ratio(medians[f"{v}/{PLAIN}"]),
        ]
        for v in VARIANTS[1:]
    )
    empty = medians[f"{EMPTY}/{PLAIN}"]
    verdict = "met" if empty >= 1.0 - TOLERANCE else "MISSED"
    return "\n".join(
        [
            f"Middleware: {calls:,} sequential calls to a server that replies at once",
            format_table(
                [f"variant (median of {runs} runs)", "calls/s", "vs raw", "vs no middleware"],
                rows,
            ),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            (
                f"Target: zero middleware costs nothing (>= {1 - TOLERANCE:.2f}x no "
                f"middleware) -> {empty:.2f}x ({verdict})"
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--calls", type=positive_int, default=None, help="calls per variant")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    calls = args.calls or (QUICK_CALLS if args.quick else FULL_CALLS)
    one_run(0, QUICK_CALLS, no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(args.runs, functools.partial(one_run, calls=calls, no_gc=args.no_gc))
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, calls, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="middleware",
            config={
                "calls": calls,
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
