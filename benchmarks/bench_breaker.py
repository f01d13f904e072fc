"""Circuit breaker overhead: a trivial async function called through a closed breaker.

The protected function is ``async def f(): return 1`` (no checkpoint), so what is measured is
the breaker's own cost per call. Calls are timed in blocks of 1,000 (one
``time.perf_counter_ns()`` pair per block, so the timer's own cost does not swamp a call of
about 100 ns); a variant's figure is the median over its blocks of the time per call, and
its ratio is that divided by the baseline's, in the same run. Reported are the medians of
those figures and ratios across runs.

Variants, all in the same process and the same ``trio.run``:

* ``direct``: ``await f()``. The baseline.
* ``call``: ``await breaker.call(f)`` with the default configuration (5 consecutive
  failures): the fast path, which reads no clock.
* ``decorated``: ``await g()`` where ``g = breaker(f)``.
* ``guard``: ``async with breaker.guard(): await f()``.
* ``count window``: ``call`` with ``window_calls=100`` (no consecutive-failure rule).
* ``time window + slow``: ``call`` with ``window_seconds=60`` and ``slow_call_duration=1``:
  two clock reads per call (start and end) and the general path.
* ``hooks``: ``call`` with one no-op hook: every call builds an event record and is timed.
* ``call_timeout``: ``call`` with ``call_timeout=10``: a cancel scope around every call.
* ``direct + move_on_after``: ``with trio.move_on_after(10): await f()``, the baseline of
  ``call_timeout`` (what a hand-written timeout costs).

The variants take turns, one block each per round, in a rotating order, so a burst of load
from elsewhere on the machine hits all of them rather than whichever ran at the time.

Target (from the issue): ``call`` at most 3x ``direct``.

Usage::

    python benchmarks/bench_breaker.py [--runs 3] [--quick] [--json FILE] [--rounds N]
                                       [--block N] [--no-gc]
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
    median,
    median_of_runs,
    percentile,
    positive_int,
    print_environment,
    ratio,
    run_repeatedly,
    silence_otp,
    write_json,
)

from otp._breaker import BreakerConfig, BreakerEvent, CircuitBreaker

FULL_ROUNDS = 300
QUICK_ROUNDS = 30
BLOCK = 1_000
TARGET_RATIO = 3.0  # the target: breaker.call at most 3x a direct await

DIRECT = "direct"
CALL = "call"
DECORATED = "decorated"
GUARD = "guard"
COUNT_WINDOW = "count_window"
TIME_WINDOW = "time_window_slow"
HOOKS = "hooks"
TIMEOUT = "call_timeout"
DIRECT_TIMEOUT = "direct_move_on_after"
VARIANTS = (
    DIRECT,
    CALL,
    DECORATED,
    GUARD,
    COUNT_WINDOW,
    TIME_WINDOW,
    HOOKS,
    TIMEOUT,
    DIRECT_TIMEOUT,
)
LABELS = {
    DIRECT: "direct await f()",
    CALL: "breaker.call(f)",
    DECORATED: "@breaker",
    GUARD: "async with breaker.guard()",
    COUNT_WINDOW: "call, count window",
    TIME_WINDOW: "call, time window + slow calls",
    HOOKS: "call, one hook",
    TIMEOUT: "call, call_timeout",
    DIRECT_TIMEOUT: "direct + move_on_after",
}
# Each variant's ratio is taken to this baseline.
BASELINE_OF = dict.fromkeys(VARIANTS, DIRECT) | {TIMEOUT: DIRECT_TIMEOUT}


async def f() -> int:
    """The protected function: returns at once, no checkpoint."""
    return 1


def ignore(event: BreakerEvent) -> None:
    """A hook that does nothing (the cost measured is building and delivering the event)."""


def make_blocks(
    block: int,
) -> tuple[dict[str, Callable[[], Awaitable[None]]], list[CircuitBreaker]]:
    """One coroutine function per variant, each making ``block`` calls."""
    default = CircuitBreaker("default")
    decorated = default(f)
    count = CircuitBreaker("count", BreakerConfig(failure_threshold=None, window_calls=100))
    timed = CircuitBreaker(
        "timed",
        BreakerConfig(failure_threshold=None, window_seconds=60.0, slow_call_duration=1.0),
    )
    hooked = CircuitBreaker("hooked", hooks=[ignore])
    timeout = CircuitBreaker("timeout", BreakerConfig(call_timeout=10.0))
    calls = range(block)

    async def direct() -> None:
        for _ in calls:
            await f()

    async def call() -> None:
        for _ in calls:
            await default.call(f)

    async def decorated_block() -> None:
        for _ in calls:
            await decorated()

    async def guard() -> None:
        for _ in calls:
            async with default.guard():
                await f()

    async def count_window() -> None:
        for _ in calls:
            await count.call(f)

    async def time_window() -> None:
        for _ in calls:
            await timed.call(f)

    async def hooks() -> None:
        for _ in calls:
            await hooked.call(f)

    async def call_timeout() -> None:
        for _ in calls:
            await timeout.call(f)

    async def direct_timeout() -> None:
        for _ in calls:
            with trio.move_on_after(10.0):
                await f()

    blocks = {
        DIRECT: direct,
        CALL: call,
        DECORATED: decorated_block,
        GUARD: guard,
        COUNT_WINDOW: count_window,
        TIME_WINDOW: time_window,
        HOOKS: hooks,
        TIMEOUT: call_timeout,
        DIRECT_TIMEOUT: direct_timeout,
    }
    return blocks, [default, count, timed, hooked, timeout]


async def measure(rounds: int, block: int, shift: int) -> dict[str, list[float]]:
    """Every variant runs one block per round, in an order that rotates every round."""
    blocks, breakers = make_blocks(block)
    samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    order = list(VARIANTS)
    for index in range(rounds):
        rotation = (index + shift) % len(order)
        for variant in order[rotation:] + order[:rotation]:
            run_block = blocks[variant]
            began = time.perf_counter_ns()
            await run_block()
            samples[variant].append((time.perf_counter_ns() - began) / block)
    for breaker in breakers:
        stats = breaker.statistics()
        # Every call must have gone through the closed state and been counted.
        assert stats.state == "closed", (breaker, stats)
        assert stats.failures == stats.rejections == 0, (breaker, stats)
    return samples


def one_run(index: int, rounds: int, block: int, *, no_gc: bool) -> Figures:
    """All variants in one trio.run; ns per call (median and p90 over blocks) and ratios."""
    with gc_policy(disabled=no_gc):
        samples = trio.run(measure, rounds, block, index)
    figures: Figures = {}
    for variant, values in samples.items():
        figures[f"{variant}.median_ns"] = median(values)
        figures[f"{variant}.p90_ns"] = percentile(values, 0.9)
    for variant in VARIANTS:
        base = BASELINE_OF[variant]
        if variant != base:
            figures[f"{variant}/{base}"] = ratio(
                figures[f"{variant}.median_ns"], figures[f"{base}.median_ns"]
            )
    return figures


def report(medians: Figures, rounds: int, block: int, runs: int) -> str:
    """The table: ns per call, and each variant's ratio to its baseline."""
    headers = [
        f"variant (median of {runs} runs)",
        "ns/call",
        "p90 block ns/call",
        "overhead ns",
        "ratio",
        "to",
    ]
    rows = []
    for variant in VARIANTS:
        base = BASELINE_OF[variant]
        is_base = variant == base
        overhead = medians[f"{variant}.median_ns"] - medians[f"{base}.median_ns"]
        rows.append(
            [
                LABELS[variant],
                fmt(medians[f"{variant}.median_ns"]),
                fmt(medians[f"{variant}.p90_ns"]),
                "" if is_base else fmt(overhead),
                "" if is_base else fmt_ratio(medians[f"{variant}/{base}"]),
                "" if is_base else LABELS[base],
            ]
        )
    target = medians[f"{CALL}/{DIRECT}"]
    verdict = "met" if target <= TARGET_RATIO else "MISSED"
    return "\n".join(
        [
            (
                f"Closed-breaker overhead: {rounds:,} rounds of one {block:,}-call block per "
                "variant, variants interleaved"
            ),
            format_table(headers, rows),
            "Ratios are the median of per-run ratios (each run measures all variants).",
            (
                f"Target: breaker.call <= {TARGET_RATIO}x direct await -> {fmt_ratio(target)} "
                f"({verdict})"
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument(
        "--rounds",
        type=positive_int,
        help=f"blocks per variant per run (default {FULL_ROUNDS}; {QUICK_ROUNDS} with --quick)",
    )
    parser.add_argument(
        "--block",
        type=positive_int,
        default=BLOCK,
        help=f"calls per timed block (default {BLOCK:,})",
    )
    args = parser.parse_args(argv)
    rounds: int = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    silence_otp()
    # One untimed pass first, so the first run does not pay for the cold start (the
    # interpreter specialising the bytecode of every path).
    trio.run(measure, max(1, rounds // 10), args.block, 0)
    runs = run_repeatedly(
        args.runs, functools.partial(one_run, rounds=rounds, block=args.block, no_gc=args.no_gc)
    )
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, rounds, args.block, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="breaker",
            config={
                "rounds": rounds,
                "block": args.block,
                "runs": args.runs,
                "quick": args.quick,
                "gc_disabled": args.no_gc,
                "clock": "trio default (real)",
            },
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
