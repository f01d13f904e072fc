"""Start and stop of many children in one supervisor: time and memory per child.

Cases (each for 10,000 and 100,000 children; 1,000 and 10,000 with ``--quick``):

* ``static``: a list of N specs passed to ``otp.supervisor``; stop is ``sup.stop()``, which
  stops the children one by one in reverse start order.
* ``dynamic``: ``otp.dynamic_supervisor`` and N calls of ``start_child()``; stop is
  ``sup.stop()``, which cancels them all at once.

Each is compared with a hand-rolled raw-Trio parent doing the same work: N tasks started one
at a time with ``nursery.start``, each under its own ``CancelScope`` kept in a dict with a
done event; stopped one by one in reverse order (cancel, wait for done) for static, all at
once for dynamic. Every child, otp's and raw, is
``task_status.started(); await trio.sleep_forever()``.

Each case runs in a fresh subprocess (this script with a hidden ``--child-case``), so its
peak RSS (``ru_maxrss``) after starting the children, minus the same process's peak RSS
just before, divided by N, is the memory per child, untouched by earlier cases.

Usage::

    python benchmarks/bench_start_stop.py [--runs 3] [--quick] [--json FILE] [--sizes N ...]
                                          [--no-gc]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio
from _common import (
    Figures,
    fmt,
    fmt_ratio,
    format_table,
    gc_collections,
    gc_figures,
    gc_policy,
    make_parser,
    median_of_runs,
    positive_int,
    print_environment,
    ratio,
    run_repeatedly,
    silence_otp,
    write_json,
)

import otp

FULL_SIZES = (10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
TARGET_RATIO = 1.2  # the target: otp at most 1.2x raw per child, in time and memory
MODES = ("static", "dynamic")
IMPLS = ("raw", "otp")
FIGURES = (
    ("start_us", "start us/child"),
    ("stop_us", "stop us/child"),
    ("memory_b", "memory B/child"),
)


def max_rss_bytes() -> int:
    """The process's peak resident set size so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return peak if sys.platform == "darwin" else peak * 1024


async def idle_child(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """The child of every case: ready at once, then idle until stopped."""
    task_status.started()
    await trio.sleep_forever()


class Sample:
    """The raw measurements of one case, taken inside its subprocess."""

    def __init__(self) -> None:
        self.figures: Figures = {}
        self._gc_before: list[int] = []

    def before_start(self) -> None:
        # A collection here means garbage from setting up cannot be freed (or collected)
        # inside the timed start, and the RSS baseline is the settled heap.
        gc.collect()
        self.figures["rss_before_b"] = max_rss_bytes()
        self._gc_before = gc_collections()

    def after_start(self) -> None:
        self.figures["rss_started_b"] = max_rss_bytes()

    def finish(self, started_ns: int, ready_ns: int, stopping_ns: int, stopped_ns: int) -> None:
        self.figures["start_ns"] = ready_ns - started_ns
        self.figures["stop_ns"] = stopped_ns - stopping_ns
        self.figures.update(gc_figures("case", self._gc_before, gc_collections()))


# --- otp --------------------------------------------------------------------------------------


async def otp_static(n: int) -> Figures:
    """N specs started by otp.supervisor; sup.stop() stops them one by one, newest first."""
    sample = Sample()
    gc.collect()
    rss_empty = max_rss_bytes()
    began = time.perf_counter_ns()
    specs = [otp.ChildSpec(i, idle_child) for i in range(n)]
    # Specs are the caller's data, built before the supervisor runs; they are reported on
    # their own rather than charged to the supervisor's start.
    sample.figures["spec_ns"] = time.perf_counter_ns() - began
    sample.before_start()
    sample.figures["spec_rss_b"] = sample.figures["rss_before_b"] - rss_empty
    async with trio.open_nursery() as nursery:
        started = time.perf_counter_ns()
        sup: otp.Supervisor = await nursery.start(functools.partial(otp.supervisor, specs))
        ready = time.perf_counter_ns()
        sample.after_start()
        _check_running(sup.count_children().active, n)
        stopping = time.perf_counter_ns()
        await sup.stop()
        stopped = time.perf_counter_ns()
    sample.finish(started, ready, stopping, stopped)
    return sample.figures


async def otp_dynamic(n: int) -> Figures:
    """N children started with start_child(); sup.stop() stops them all at once."""
    sample = Sample()
    template = otp.ChildSpec("worker", idle_child)
    async with trio.open_nursery() as nursery:
        sup: otp.DynamicSupervisor = await nursery.start(
            functools.partial(otp.dynamic_supervisor, template)
        )
        sample.before_start()
        started = time.perf_counter_ns()
        for _ in range(n):
            await sup.start_child()
        ready = time.perf_counter_ns()
        sample.after_start()
        _check_running(sup.count_children().active, n)
        stopping = time.perf_counter_ns()
        await sup.stop()
        stopped = time.perf_counter_ns()
    sample.finish(started, ready, stopping, stopped)
    return sample.figures


# --- the hand-rolled raw Trio parent ----------------------------------------------------------


class RawParent:
    """The least a parent must keep to stop its children one at a time, by hand."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.scopes: dict[int, trio.CancelScope] = {}
        self.done: dict[int, trio.Event] = {}

    async def start(self, key: int) -> None:
        await self.nursery.start(self._run, key)

    async def _run(self, key: int, *, task_status: trio.TaskStatus[None]) -> None:
        scope = self.scopes[key] = trio.CancelScope()
        done = self.done[key] = trio.Event()
        try:
            with scope:
                await idle_child(task_status=task_status)
        finally:
            done.set()

    async def stop_one_by_one(self) -> None:
        for key in reversed(self.scopes):
            self.scopes[key].cancel()
            await self.done[key].wait()

    async def stop_all_at_once(self) -> None:
        for scope in self.scopes.values():
            scope.cancel()
        for done in self.done.values():
            await done.wait()


async def raw(n: int, *, one_by_one: bool) -> Figures:
    """N tasks started one at a time; stopped one by one (static) or all at once (dynamic)."""
    sample = Sample()
    sample.before_start()
    started = time.perf_counter_ns()
    async with trio.open_nursery() as nursery:
        parent = RawParent(nursery)
        for key in range(n):
            await parent.start(key)
        ready = time.perf_counter_ns()
        sample.after_start()
        _check_running(len(nursery.child_tasks), n)
        stopping = time.perf_counter_ns()
        if one_by_one:
            await parent.stop_one_by_one()
        else:
            await parent.stop_all_at_once()
    # After the nursery, as sup.stop() returns only once the supervisor's nursery closed.
    stopped = time.perf_counter_ns()
    sample.finish(started, ready, stopping, stopped)
    return sample.figures


def _check_running(running: int, expected: int) -> None:
    if running != expected:
        msg = f"expected {expected} running children, found {running}"
        raise RuntimeError(msg)


CASES: dict[tuple[str, str], Callable[[int], Awaitable[Figures]]] = {
    ("static", "otp"): otp_static,
    ("dynamic", "otp"): otp_dynamic,
    ("static", "raw"): functools.partial(raw, one_by_one=True),
    ("dynamic", "raw"): functools.partial(raw, one_by_one=False),
}


# --- the subprocess side ----------------------------------------------------------------------


def run_child_case(case: str, *, no_gc: bool) -> None:
    """Run one case in this (fresh) process and print its figures as one JSON line."""
    mode, impl, size = case.split(":")
    silence_otp()
    with gc_policy(disabled=no_gc):
        figures = trio.run(CASES[mode, impl], int(size))
    print(json.dumps(figures))


def spawn_case(mode: str, impl: str, n: int, *, no_gc: bool) -> Figures:
    """Run one case in a fresh subprocess and read back its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child-case", f"{mode}:{impl}:{n}"]
    if no_gc:
        command.append("--no-gc")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        msg = f"case {mode}:{impl}:{n} failed (exit {done.returncode}):\n{done.stderr}"
        raise RuntimeError(msg)
    figures: Figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# --- one run ----------------------------------------------------------------------------------


def one_run(index: int, sizes: tuple[int, ...], *, no_gc: bool) -> Figures:
    """Every case once; otp and raw of a case run back to back, alternating which goes first."""
    figures: Figures = {}
    impls = IMPLS if index % 2 == 0 else IMPLS[::-1]
    for n in sizes:
        for mode in MODES:
            for impl in impls:
                print(f"  {mode} {impl} {n:,}", file=sys.stderr, flush=True)
                sample = spawn_case(mode, impl, n, no_gc=no_gc)
                prefix = f"{mode}.{n}.{impl}"
                figures[f"{prefix}.start_us"] = sample["start_ns"] / n / 1000
                figures[f"{prefix}.stop_us"] = sample["stop_ns"] / n / 1000
                figures[f"{prefix}.memory_b"] = (
                    sample["rss_started_b"] - sample["rss_before_b"]
                ) / n
                figures[f"{prefix}.start_s"] = sample["start_ns"] / 1e9
                figures[f"{prefix}.stop_s"] = sample["stop_ns"] / 1e9
                for generation in range(3):
                    figures[f"{prefix}.gc{generation}"] = sample[f"case.gc{generation}"]
                if "spec_ns" in sample:
                    figures[f"{prefix}.spec_us"] = sample["spec_ns"] / n / 1000
                    figures[f"{prefix}.spec_memory_b"] = sample["spec_rss_b"] / n
            for key, _ in FIGURES:
                figures[f"{mode}.{n}.otp/raw.{key}"] = ratio(
                    figures[f"{mode}.{n}.otp.{key}"], figures[f"{mode}.{n}.raw.{key}"]
                )
    return figures


# --- report -----------------------------------------------------------------------------------


def report(medians: Figures, sizes: tuple[int, ...], runs: int) -> str:
    """One table: raw, otp and otp/raw for every case."""
    headers = [
        f"case (median of {runs} runs)",
        "children",
        "impl",
        *(label for _, label in FIGURES),
        "gc runs 0/1/2",
    ]
    rows: list[list[str]] = []
    missed: list[str] = []
    for mode in MODES:
        for n in sizes:
            for impl in IMPLS:
                prefix = f"{mode}.{n}.{impl}"
                rows.append(
                    [
                        mode,
                        f"{n:,}",
                        impl,
                        fmt(medians[f"{prefix}.start_us"]),
                        fmt(medians[f"{prefix}.stop_us"]),
                        fmt(medians[f"{prefix}.memory_b"], 0),
                        "/".join(fmt(medians[f"{prefix}.gc{gen}"], 0) for gen in range(3)),
                    ]
                )
            ratios = [medians[f"{mode}.{n}.otp/raw.{key}"] for key, _ in FIGURES]
            rows.append([mode, f"{n:,}", "otp/raw", *(fmt_ratio(value) for value in ratios), ""])
            missed.extend(
                f"{mode} {n:,} {label.split()[0]} {fmt_ratio(value)}"
                for (_, label), value in zip(FIGURES, ratios, strict=True)
                if value > TARGET_RATIO
            )
    specs = ", ".join(
        f"{n:,}: {fmt(medians[f'static.{n}.otp.spec_us'])} us and "
        f"{fmt(medians[f'static.{n}.otp.spec_memory_b'], 0)} B per spec"
        for n in sizes
    )
    verdict = "met" if not missed else "MISSED: " + "; ".join(missed)
    lines = [
        "Start and stop of N children in one supervisor (per child)",
        format_table(headers, rows),
        "Ratios are the median of per-run ratios (each run measures otp and raw back to back).",
        f"Building the static ChildSpecs (not in the figures above): {specs}.",
        f"Target: otp <= {TARGET_RATIO}x raw in time and memory -> {verdict}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run (or run one case, in a subprocess), print and write JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument(
        "--sizes",
        type=positive_int,
        nargs="+",
        metavar="N",
        help="numbers of children (default 10,000 and 100,000; 1,000 and 10,000 with --quick)",
    )
    parser.add_argument("--child-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_case is not None:
        run_child_case(args.child_case, no_gc=args.no_gc)
        return
    sizes: tuple[int, ...] = tuple(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    runs = run_repeatedly(args.runs, functools.partial(one_run, sizes=sizes, no_gc=args.no_gc))
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, sizes, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="start_stop",
            config={
                "sizes": list(sizes),
                "runs": args.runs,
                "quick": args.quick,
                "gc_disabled": args.no_gc,
                "memory": "ru_maxrss after start minus ru_maxrss before, fresh process per case",
            },
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
