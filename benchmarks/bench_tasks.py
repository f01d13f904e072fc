"""Supervised jobs: 100k no-op jobs through otp.tasks against a raw nursery + limiter loop.

One submitter task queues N no-op jobs (``async def noop(): await checkpoint()``) and the
figure is jobs per second, from the first submit until the last job has ended. Variants,
each in its own ``trio.run``, one after the other, in an order rotated every run:

* ``raw nursery + CapacityLimiter`` (the baseline): the loop a user would write,
  ``await limiter.acquire_on_behalf_of(token)`` then ``nursery.start_soon(job, token)``,
  each job releasing its token (of 100) when it ends; no timeout, no retry, no result kept.
* ``otp.tasks, submit``: ``await executor.submit(noop)`` for each job into an
  :class:`otp.tasks.Executor` (concurrency 100, queue 1000, default 30 s timeout and retry
  policy), then ``await executor.join()``. Each job gets a handle, a cancel scope with its
  deadline, and a latency observation.
* ``otp.tasks, map``: ``await executor.map(noop_item, range(N))``: results kept in order.

Target (issue 12): otp.tasks at least 0.5x the raw loop's jobs per second.

Usage::

    python benchmarks/bench_tasks.py [--runs 5] [--quick] [--json FILE] [--no-gc] [--jobs N]
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

import otp.tasks

FULL_JOBS = 100_000
QUICK_JOBS = 5_000
CONCURRENCY = 100
TARGET_RATIO = 0.5

RAW, SUBMIT, MAP = "raw", "otp.submit", "otp.map"
VARIANTS = (RAW, SUBMIT, MAP)
LABELS = {
    RAW: "raw nursery + CapacityLimiter",
    SUBMIT: "otp.tasks, submit + join",
    MAP: "otp.tasks, map",
}


async def noop() -> None:
    await trio.lowlevel.checkpoint()


async def noop_item(item: int) -> int:
    await trio.lowlevel.checkpoint()
    return item


async def run_raw(jobs: int) -> None:
    """The loop a user writes without otp: a limiter and a nursery."""
    limiter = trio.CapacityLimiter(CONCURRENCY)

    async def job(token: object) -> None:
        try:
            await noop()
        finally:
            limiter.release_on_behalf_of(token)

    async with trio.open_nursery() as nursery:
        for _ in range(jobs):
            token = object()  # the submitter takes the token; the job gives it back
            await limiter.acquire_on_behalf_of(token)
            nursery.start_soon(job, token)


async def run_submit(jobs: int) -> None:
    async with otp.tasks.open_executor(concurrency=CONCURRENCY) as executor:
        for _ in range(jobs):
            await executor.submit(noop)
        await executor.join()
    assert executor.statistics().succeeded == jobs


async def run_map(jobs: int) -> None:
    async with otp.tasks.open_executor(concurrency=CONCURRENCY) as executor:
        results = await executor.map(noop_item, range(jobs))
    assert len(results) == jobs


RUNNERS: dict[str, Callable[[int], Awaitable[None]]] = {
    RAW: run_raw,
    SUBMIT: run_submit,
    MAP: run_map,
}


def time_variant(variant: str, jobs: int, *, no_gc: bool) -> float:
    """Jobs per second of one variant."""
    with gc_policy(disabled=no_gc):
        began = time.perf_counter()
        trio.run(RUNNERS[variant], jobs)
        elapsed = time.perf_counter() - began
    return jobs / elapsed


def one_run(index: int, jobs: int, *, no_gc: bool) -> Figures:
    """Every variant once, in an order rotated every run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for variant in VARIANTS[shift:] + VARIANTS[:shift]:
        figures[f"{variant}.jobs_per_s"] = time_variant(variant, jobs, no_gc=no_gc)
    for variant in (SUBMIT, MAP):
        figures[f"{variant}/{RAW}"] = ratio(
            figures[f"{variant}.jobs_per_s"], figures[f"{RAW}.jobs_per_s"]
        )
    return figures


def report(medians: Figures, jobs: int, runs: int) -> str:
    """The table and the verdict."""
    rows = [[LABELS[RAW], fmt(medians[f"{RAW}.jobs_per_s"], 0), fmt_ratio(1.0)]]
    rows.extend(
        [LABELS[v], fmt(medians[f"{v}.jobs_per_s"], 0), fmt_ratio(medians[f"{v}/{RAW}"])]
        for v in (SUBMIT, MAP)
    )
    lowest = min(medians[f"{v}/{RAW}"] for v in (SUBMIT, MAP))
    verdict = "met" if lowest >= TARGET_RATIO else "MISSED"
    return "\n".join(
        [
            f"Supervised jobs: {jobs:,} no-op jobs, concurrency {CONCURRENCY}",
            format_table([f"variant (median of {runs} runs)", "jobs/s", "vs raw"], rows),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            f"Target: otp.tasks >= {TARGET_RATIO}x raw -> {lowest:.2f}x ({verdict})",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--jobs", type=positive_int, default=None, help="jobs per variant")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    jobs = args.jobs or (QUICK_JOBS if args.quick else FULL_JOBS)
    one_run(0, QUICK_JOBS, no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(args.runs, functools.partial(one_run, jobs=jobs, no_gc=args.no_gc))
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, jobs, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="tasks",
            config={
                "jobs": jobs,
                "concurrency": CONCURRENCY,
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
