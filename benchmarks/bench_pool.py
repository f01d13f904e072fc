"""Pools: acquire, use and give back a resource, otp.pool against a semaphore and a list.

Eight user tasks share four resources; each user does N/8 rounds of acquire, one checkpoint
of "work" with the resource, and give it back. The figure is rounds per second. Variants,
each in its own ``trio.run``, one after the other, in an order rotated every run:

* ``raw semaphore + list`` (the baseline): what a user writes without otp: a
  ``trio.Semaphore(4)`` and a list of the four resources, ``pop()`` under the semaphore and
  ``append()`` back in a ``finally``; no health check, no replacement, no timeout.
* ``otp.pool``: ``async with pool.acquire()`` on a :class:`otp.pool.Pool` with
  ``min_size=max_size=4`` under a supervisor: FIFO waiting with a 5 s acquire timeout, and
  a resource whose user raised is replaced.
* ``otp.pool + health check``: the same with a health check (one checkpoint) on checkout.

The issue sets no target here.

Usage::

    python benchmarks/bench_pool.py [--runs 5] [--quick] [--json FILE] [--no-gc] [--rounds N]
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

import otp
import otp.pool

FULL_ROUNDS = 100_000
QUICK_ROUNDS = 8_000
USERS = 8
RESOURCES = 4

RAW, POOL, CHECKED = "raw", "pool", "checked"
VARIANTS = (RAW, POOL, CHECKED)
LABELS = {
    RAW: "raw semaphore + list",
    POOL: "otp.pool",
    CHECKED: "otp.pool + health check",
}


class Resource:
    uses = 0


async def make() -> Resource:
    await trio.lowlevel.checkpoint()
    return Resource()


async def healthy(resource: Resource) -> bool:
    await trio.lowlevel.checkpoint()
    return True


async def work(resource: Resource) -> None:
    resource.uses += 1
    await trio.lowlevel.checkpoint()


async def run_raw(rounds: int) -> None:
    free = [Resource() for _ in range(RESOURCES)]
    semaphore = trio.Semaphore(RESOURCES)

    async def user(n: int) -> None:
        for _ in range(n):
            async with semaphore:
                resource = free.pop()
                try:
                    await work(resource)
                finally:
                    free.append(resource)

    async with trio.open_nursery() as nursery:
        for _ in range(USERS):
            nursery.start_soon(user, rounds // USERS)
    assert sum(r.uses for r in free) == rounds // USERS * USERS


def pool_runner(*, checked: bool) -> Callable[[int], Awaitable[None]]:
    async def run(rounds: int) -> None:
        pool = otp.pool.Pool(
            "bench",
            make,
            min_size=RESOURCES,
            max_size=RESOURCES,
            health_check=healthy if checked else None,
        )

        async def user(n: int) -> None:
            acquire = pool.acquire
            for _ in range(n):
                async with acquire() as resource:
                    await work(resource)

        async with otp.open_supervisor([pool.child_spec()]), trio.open_nursery() as nursery:
            for _ in range(USERS):
                nursery.start_soon(user, rounds // USERS)
        assert pool.statistics().created == RESOURCES

    return run


RUNNERS: dict[str, Callable[[int], Awaitable[None]]] = {
    RAW: run_raw,
    POOL: pool_runner(checked=False),
    CHECKED: pool_runner(checked=True),
}


def time_variant(variant: str, rounds: int, *, no_gc: bool) -> float:
    """Rounds per second of one variant."""
    with gc_policy(disabled=no_gc):
        began = time.perf_counter()
        trio.run(RUNNERS[variant], rounds)
        elapsed = time.perf_counter() - began
    return rounds / elapsed


def one_run(index: int, rounds: int, *, no_gc: bool) -> Figures:
    """Every variant once, in an order rotated every run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for variant in VARIANTS[shift:] + VARIANTS[:shift]:
        figures[f"{variant}.rounds_per_s"] = time_variant(variant, rounds, no_gc=no_gc)
    for variant in (POOL, CHECKED):
        figures[f"{variant}/{RAW}"] = ratio(
            figures[f"{variant}.rounds_per_s"], figures[f"{RAW}.rounds_per_s"]
        )
    return figures


def report(medians: Figures, rounds: int, runs: int) -> str:
    """The table."""
    rows = [[LABELS[RAW], fmt(medians[f"{RAW}.rounds_per_s"], 0), fmt_ratio(1.0)]]
    rows.extend(
        [LABELS[v], fmt(medians[f"{v}.rounds_per_s"], 0), fmt_ratio(medians[f"{v}/{RAW}"])]
        for v in (POOL, CHECKED)
    )
    return "\n".join(
        [
            (
                f"Pools: {rounds:,} rounds of acquire/use/release, {USERS} users, "
                f"{RESOURCES} resources"
            ),
            format_table([f"variant (median of {runs} runs)", "rounds/s", "vs raw"], rows),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            "No target (issue 12 sets none for pools).",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--rounds", type=positive_int, default=None, help="rounds per variant")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    one_run(0, QUICK_ROUNDS, no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(args.runs, functools.partial(one_run, rounds=rounds, no_gc=args.no_gc))
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, rounds, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="pool",
            config={
                "rounds": rounds,
                "users": USERS,
                "resources": RESOURCES,
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
