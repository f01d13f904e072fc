"""Restart latency: from a child's crash to its replacement being ready.

One child crashes over and over under a one_for_one supervisor whose intensity never runs
out (``intensity=10**9``, ``period=1.0``), on Trio's real clock. Each incarnation stamps
``time.perf_counter_ns()`` just before it calls ``task_status.started()`` (ready) and just
before it raises (crash); a restart's latency is the next incarnation's ready stamp minus the
crash stamp. The median and p99 are reported for all restarts, for the first 1,000 and for
the last 1,000: the last must be no slower than the first.

Two raw-Trio baselines are measured the same way, in the same process and the same run:

* ``raw spawn``: the floor, a bare ``await nursery.start(fn)``; the previous task signals its
  exit through an event instead of raising, and the parent starts the next one.
* ``raw restart loop``: the least a hand-written restart loop does; a wrapper task catches
  the child's exception and posts it through a memory channel to a parent loop, which starts
  a new child with ``nursery.start``. It runs the very child otp runs.

The three run side by side in one ``trio.run`` (one supervisor, one loop, one parent, each
with its own child for the whole run) and take turns in blocks of 100 restarts, so a burst
of load from elsewhere on the machine hits all three rather than whichever ran at the time.
Only one child may crash at a time, and only once every other task is blocked, so every
sample is one isolated crash-to-ready path.

Usage::

    python benchmarks/bench_restart.py [--runs 3] [--quick] [--json FILE] [--restarts N]
                                       [--block N] [--no-gc] [--profile]
"""

from __future__ import annotations

import cProfile
import functools
import gc
import math
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio
import trio.testing
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

import otp

FULL_RESTARTS = 10_000
QUICK_RESTARTS = 1_000
FULL_WINDOW = 1_000
QUICK_WINDOW = 100
BLOCK = 100
TARGET_RATIO = 1.5  # the target: otp's median at most 1.5x the raw spawn's

OTP = "otp"
RAW_SPAWN = "raw_spawn"
RAW_LOOP = "raw_loop"
VARIANTS = (RAW_SPAWN, RAW_LOOP, OTP)
LABELS = {
    RAW_SPAWN: "raw spawn",
    RAW_LOOP: "raw restart loop",
    OTP: "otp one_for_one",
}
BASELINES = (RAW_SPAWN, RAW_LOOP)
WINDOWS = ("all", "early", "late")
STATS = ("median_us", "p99_us")


class Crash(Exception):
    """What the benchmarked child raises: a type of its own, so nothing else passes for it."""


class Probe:
    """One variant's stamps and turn-taking, shared by every incarnation of its child."""

    def __init__(self, variant: str, restarts: int) -> None:
        self.variant = variant
        self.restarts = restarts
        self.ready_ns: list[int] = []
        self.crash_ns: list[int] = []
        self.busy_ns = 0
        self.gc_runs = [0, 0, 0]
        self.finished = trio.Event()  # set by the conductor: the variant may shut down
        self._allowance = 0
        self._go = trio.Event()
        self._parked = trio.Event()

    @property
    def complete(self) -> bool:
        """Whether the incarnation that follows the last restart has started."""
        return len(self.ready_ns) > self.restarts

    def ready(self, task_status: trio.TaskStatus[None]) -> None:
        """Stamp the ready time, then report started."""
        self.ready_ns.append(time.perf_counter_ns())
        task_status.started()

    async def take_turn(self) -> bool:
        """Wait until this variant may crash once more; False once it has done all its restarts.

        Between blocks the child parks here, which is how the conductor knows the block is
        over and the next variant can go.
        """
        if self.complete:
            self._parked.set()
            return False
        while self._allowance == 0:
            self._parked.set()
            self._go = trio.Event()
            await self._go.wait()
        self._allowance -= 1
        return True

    async def settle_then_stamp_crash(self) -> None:
        """Wait until nothing else can run, then stamp the crash time.

        Until every other task is blocked, the previous restart is still finishing (the
        supervisor or parent has not gone back to waiting), so crashing at once would time
        one restart's tail together with the next one.
        """
        await trio.testing.wait_all_tasks_blocked()
        self.crash_ns.append(time.perf_counter_ns())

    async def run_block(self, crashes: int) -> None:
        """Let the child crash ``crashes`` times, and wait until its successor is parked."""
        self._parked = trio.Event()
        self._allowance = crashes
        began = time.perf_counter_ns()
        self._go.set()
        await self._parked.wait()
        self.busy_ns += time.perf_counter_ns() - began

    async def wait_parked(self) -> None:
        """Wait until the first incarnation is up and waiting for its turn."""
        await self._parked.wait()

    def latencies_ns(self) -> list[int]:
        """One latency per restart: next ready minus crash."""
        if len(self.crash_ns) != self.restarts or len(self.ready_ns) != self.restarts + 1:
            msg = (
                f"{self.variant}: expected {self.restarts} crashes and {self.restarts + 1} "
                f"starts, got {len(self.crash_ns)} and {len(self.ready_ns)}"
            )
            raise RuntimeError(msg)
        return [
            ready - crash for crash, ready in zip(self.crash_ns, self.ready_ns[1:], strict=True)
        ]


# --- otp, and the child it shares with the raw restart loop ---------------------------------


async def crashing_child(
    probe: Probe, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Start, then crash when allowed; the incarnation after the last restart stays up."""
    probe.ready(task_status)
    if not await probe.take_turn():
        await trio.sleep_forever()
    await probe.settle_then_stamp_crash()
    raise Crash


async def run_otp(probe: Probe) -> None:
    """The child under a real otp supervisor that never runs out of restart intensity."""
    spec = otp.ChildSpec("worker", crashing_child, (probe,))
    async with trio.open_nursery() as nursery:
        sup: otp.Supervisor = await nursery.start(
            functools.partial(
                otp.supervisor, [spec], strategy="one_for_one", intensity=10**9, period=1.0
            )
        )
        await probe.finished.wait()
        await sup.stop()


# --- baseline: a hand-written restart loop ----------------------------------------------------


async def loop_wrapper(
    probe: Probe,
    exits: trio.MemorySendChannel[Exception],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the child; turn its crash into a message so the crash cannot reach the nursery."""
    try:
        await crashing_child(probe, task_status=task_status)
    except Exception as exc:
        exits.send_nowait(exc)


async def run_raw_loop(probe: Probe) -> None:
    """Start a child, and start a new one whenever the previous one's crash is posted."""
    exits_send, exits_receive = trio.open_memory_channel[Exception](math.inf)
    async with trio.open_nursery() as nursery:
        await nursery.start(loop_wrapper, probe, exits_send)
        while not probe.complete:
            await exits_receive.receive()
            await nursery.start(loop_wrapper, probe, exits_send)
        await probe.finished.wait()
        nursery.cancel_scope.cancel()


# --- baseline: spawn a task and wait for started ----------------------------------------------


async def spawned_child(
    probe: Probe,
    exited: trio.Event,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Start, then signal an exit: the floor of what replacing a task can cost in Trio."""
    probe.ready(task_status)
    if not await probe.take_turn():
        return
    await probe.settle_then_stamp_crash()
    exited.set()


async def run_raw_spawn(probe: Probe) -> None:
    """Spawn a task, wait for its exit signal, spawn the next."""
    async with trio.open_nursery() as nursery:
        while True:
            exited = trio.Event()
            await nursery.start(spawned_child, probe, exited)
            if probe.complete:
                return
            await exited.wait()


RUNNERS: dict[str, Callable[[Probe], Awaitable[None]]] = {
    OTP: run_otp,
    RAW_LOOP: run_raw_loop,
    RAW_SPAWN: run_raw_spawn,
}


# --- the conductor ----------------------------------------------------------------------------


class GcAttribution:
    """Counts each garbage collection against the variant whose block was running.

    The collector runs when allocations cross a threshold, so a collection mostly falls in
    the block of the variant that made the garbage; counting it there shows who pays.
    """

    def __init__(self) -> None:
        self.current: Probe | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and self.current is not None:
            self.current.gc_runs[info["generation"]] += 1


async def conduct(probes: Sequence[Probe], block: int, attribution: GcAttribution) -> None:
    """Run every variant side by side; let them crash in turns of ``block`` restarts."""
    async with trio.open_nursery() as nursery:
        for probe in probes:
            nursery.start_soon(RUNNERS[probe.variant], probe)
        for probe in probes:
            await probe.wait_parked()
        turn = 0
        while not all(probe.complete for probe in probes):
            # Rotated every round, so no variant always follows the same other one.
            shift = turn % len(probes)
            for probe in [*probes[shift:], *probes[:shift]]:
                crashes = min(block, probe.restarts - len(probe.crash_ns))
                if crashes > 0:
                    attribution.current = probe
                    await probe.run_block(crashes)
                    attribution.current = None
            turn += 1
        for probe in probes:
            probe.finished.set()


def run_variants(variants: Sequence[str], restarts: int, block: int, *, no_gc: bool) -> list[Probe]:
    """One trio.run with the given variants side by side; returns their probes."""
    probes = [Probe(variant, restarts) for variant in variants]
    attribution = GcAttribution()
    with gc_policy(disabled=no_gc):
        gc.callbacks.append(attribution)
        try:
            trio.run(conduct, probes, block, attribution)
        finally:
            gc.callbacks.remove(attribution)
    return probes


# --- one run ----------------------------------------------------------------------------------


def summarise(probe: Probe, window: int) -> Figures:
    """Median and p99 of one variant's latencies, overall, early and late."""
    variant = probe.variant
    latencies = [nanoseconds / 1000 for nanoseconds in probe.latencies_ns()]
    samples = {"all": latencies, "early": latencies[:window], "late": latencies[-window:]}
    figures: Figures = {}
    for name, values in samples.items():
        figures[f"{variant}.{name}.median_us"] = median(values)
        figures[f"{variant}.{name}.p99_us"] = percentile(values, 0.99)
    figures[f"{variant}.late_over_early"] = ratio(
        figures[f"{variant}.late.median_us"], figures[f"{variant}.early.median_us"]
    )
    # Whole crash-settle-restart cycles while the variant had the turn: a rough throughput
    # that includes the benchmark's settling, not a latency.
    figures[f"{variant}.restarts_per_s"] = probe.restarts / (probe.busy_ns / 1e9)
    for generation, runs in enumerate(probe.gc_runs):
        figures[f"{variant}.gc{generation}"] = float(runs)
    return figures


def one_run(index: int, restarts: int, window: int, block: int, *, no_gc: bool) -> Figures:
    """All variants side by side; the order of turns starts at a different variant each run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for probe in run_variants(VARIANTS[shift:] + VARIANTS[:shift], restarts, block, no_gc=no_gc):
        figures.update(summarise(probe, window))
    # Ratios within a run compare samples taken milliseconds apart; their median across runs
    # is steadier than a ratio of medians taken from different runs.
    for base in BASELINES:
        for window_name in WINDOWS:
            for stat in STATS:
                figures[f"{OTP}/{base}.{window_name}.{stat}"] = ratio(
                    figures[f"{OTP}.{window_name}.{stat}"], figures[f"{base}.{window_name}.{stat}"]
                )
    return figures


def warm_up(restarts: int, block: int) -> None:
    """One untimed pass before the measured runs.

    Otherwise the first run also pays for the process's cold start (caches, the interpreter
    specialising its bytecode), which would show up as a slow "first 1,000" that has nothing
    to do with a supervisor's own history.
    """
    run_variants(VARIANTS, restarts, block, no_gc=False)


# --- report -----------------------------------------------------------------------------------


def report(medians: Figures, restarts: int, window: int, block: int, runs: int) -> str:
    """The plain-text table: latencies per variant, then otp's ratios to each baseline."""
    headers = [
        f"variant (us, median of {runs} runs)",
        "all med",
        "all p99",
        f"first {window:,} med",
        f"first {window:,} p99",
        f"last {window:,} med",
        f"last {window:,} p99",
        "last/first med",
        "restarts/s",
        "gc runs 0/1/2",
    ]
    rows = []
    for variant in VARIANTS:
        cells = [LABELS[variant]]
        for window_name in WINDOWS:
            cells.extend(fmt(medians[f"{variant}.{window_name}.{stat}"]) for stat in STATS)
        cells.append(fmt_ratio(medians[f"{variant}.late_over_early"]))
        cells.append(fmt(medians[f"{variant}.restarts_per_s"], 0))
        cells.append("/".join(fmt(medians[f"{variant}.gc{gen}"], 0) for gen in range(3)))
        rows.append(cells)
    for base in BASELINES:
        cells = [f"otp / {LABELS[base]}"]
        for window_name in WINDOWS:
            cells.extend(fmt_ratio(medians[f"{OTP}/{base}.{window_name}.{stat}"]) for stat in STATS)
        rows.append([*cells, "", "", ""])
    target = medians[f"{OTP}/{RAW_SPAWN}.all.median_us"]
    verdict = "met" if target <= TARGET_RATIO else "MISSED"
    lines = [
        (
            f"Restart latency, crash to replacement ready: {restarts:,} restarts of one child, "
            f"variants interleaved in blocks of {block}"
        ),
        format_table(headers, rows),
        "Ratios are the median of per-run ratios (each run measures all variants).",
        f"Target: otp median <= {TARGET_RATIO}x raw spawn -> {fmt_ratio(target)} ({verdict})",
    ]
    return "\n".join(lines)


def profile_otp(restarts: int, block: int, top: int = 15) -> str:
    """Where otp's restart time goes: one extra otp-only pass under cProfile.

    cProfile inflates every call, so its absolute times are not the benchmark's; the split
    between otp, Trio and everything else, and the ranking, are what it is for. Trio's share
    includes the benchmark's own settling (wait_all_tasks_blocked). A coroutine is counted
    once per resumption, hence two "calls" per restart for some functions.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    run_variants([OTP], restarts, block, no_gc=False)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # not in typeshed
    by_area: dict[str, float] = {"otp": 0.0, "trio": 0.0, "other": 0.0}
    rows: list[tuple[float, float, float, str]] = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.items():
        path = filename.replace("\\", "/")
        area = "otp" if "/otp/" in path else "trio" if "/trio/" in path else "other"
        by_area[area] += own
        if area == "otp":
            where = f"{path.rsplit('/', 1)[-1]}:{line}({function})"
            rows.append((own, cumulative, calls, where))
    rows.sort(reverse=True)
    table = format_table(
        ["otp function (by own time)", "own us/restart", "cum us/restart", "calls/restart"],
        [
            [
                where,
                fmt(own / restarts * 1e6, 2),
                fmt(cum / restarts * 1e6, 2),
                fmt(calls / restarts),
            ]
            for own, cum, calls, where in rows[:top]
        ],
    )
    split = ", ".join(
        f"{area} {fmt(seconds / restarts * 1e6)}" for area, seconds in by_area.items()
    )
    return "\n".join(
        [
            (
                f"cProfile of otp alone, {restarts:,} restarts (inflated by profiling; compare "
                "shares only)"
            ),
            f"own time per restart (us): {split}",
            table,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument(
        "--restarts",
        type=positive_int,
        help=f"restarts per run (default {FULL_RESTARTS:,}; {QUICK_RESTARTS:,} with --quick)",
    )
    parser.add_argument(
        "--block",
        type=positive_int,
        default=BLOCK,
        help=f"restarts per turn when the variants take turns (default {BLOCK})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the runs, profile one more otp-only pass and print where its time goes",
    )
    args = parser.parse_args(argv)
    restarts: int = args.restarts or (QUICK_RESTARTS if args.quick else FULL_RESTARTS)
    window = min(QUICK_WINDOW if args.quick else FULL_WINDOW, restarts)
    silence_otp()
    warm_up(min(restarts, QUICK_RESTARTS), args.block)
    runs = run_repeatedly(
        args.runs,
        functools.partial(
            one_run, restarts=restarts, window=window, block=args.block, no_gc=args.no_gc
        ),
    )
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, restarts, window, args.block, args.runs))
    if args.profile:
        print()
        print(profile_otp(restarts, args.block))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="restart",
            config={
                "restarts": restarts,
                "window": window,
                "block": args.block,
                "runs": args.runs,
                "quick": args.quick,
                "gc_disabled": args.no_gc,
                "intensity": 10**9,
                "period": 1.0,
                "clock": "trio default (real)",
            },
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
