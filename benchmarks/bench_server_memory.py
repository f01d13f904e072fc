"""Memory per idle server: 10,000 and 100,000 servers under one dynamic supervisor.

Cases (each for 10,000 and 100,000 servers; 1,000 and 10,000 with ``--quick``):

* ``otp server``: ``otp.open_dynamic_supervisor(Echo.child_spec(id="s", restart="temporary"))``
  and N calls of ``await sup.start_child()``; every server is idle, parked on its empty
  mailbox. The parent keeps nothing: the supervisor keeps the children.
* ``raw task`` (the baseline): N raw Trio tasks started with ``nursery.start_soon``, each
  idle in ``await receive_channel.receive()`` on its own unbounded memory channel, the
  closest raw equivalent of an idle server; the parent keeps the N send channels (the "refs").
* ``otp child`` (a reference): the raw task's body as a plain child of the same dynamic
  supervisor (it opens its channel, passes the send end to ``task_status.started()`` and
  waits on the receive end). ``otp child - raw task`` is what supervision costs per child;
  ``otp server - otp child`` is what a GenServer costs on top of a supervised task.

Each case runs in a fresh subprocess (this script with a hidden ``--child-case``), so its
peak RSS (``ru_maxrss``) after starting the N servers, minus the same process's peak RSS
just before (after a ``gc.collect()``), divided by N, is the memory per server, untouched by
earlier cases. The start time per server is reported too (informational: it includes the
garbage collector, which at 100,000 tasks costs more than the starts themselves).

Usage::

    python benchmarks/bench_server_memory.py [--runs 3] [--quick] [--json FILE]
                                             [--sizes N ...] [--no-gc]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio
import trio.testing
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
RAW = "raw"
OTP_CHILD = "otp_child"
OTP_SERVER = "otp_server"
IMPLS = (RAW, OTP_CHILD, OTP_SERVER)
LABELS = {
    RAW: "raw task (baseline)",
    OTP_CHILD: "otp child (ref.)",
    OTP_SERVER: "otp server",
}


def max_rss_bytes() -> int:
    """The process's peak resident set size so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return peak if sys.platform == "darwin" else peak * 1024


class Echo(otp.GenServer[int, int]):
    """The idle server: it would reply with the request, but nobody calls it until the end."""

    async def handle_call(self, request: int, caller: otp.Caller[int]) -> int:
        return request


async def idle_receiver(
    *, task_status: trio.TaskStatus[trio.MemorySendChannel[int]] = trio.TASK_STATUS_IGNORED
) -> None:
    """The raw task's body as an otp child: a channel of its own, the send end as its value."""
    send, receive = trio.open_memory_channel[int](math.inf)
    task_status.started(send)
    del send  # the supervisor keeps it, as the raw parent keeps its send channels
    await receive.receive()


async def raw_idle_task(receive: trio.MemoryReceiveChannel[int]) -> None:
    """An idle raw task: waiting for a message that does not come."""
    await receive.receive()


class Sample:
    """The raw measurements of one case, taken inside its subprocess."""

    def __init__(self) -> None:
        self.figures: Figures = {}
        self._gc_before: list[int] = []
        self._began = 0

    def before_start(self) -> None:
        # A collection here means setting up leaves no garbage to be collected (or freed)
        # while the servers start, and the RSS baseline is the settled heap.
        gc.collect()
        self.figures["rss_before_b"] = max_rss_bytes()
        self._gc_before = gc_collections()
        self._began = time.perf_counter_ns()

    def after_start(self) -> None:
        self.figures["start_ns"] = time.perf_counter_ns() - self._began
        self.figures["rss_started_b"] = max_rss_bytes()
        self.figures.update(gc_figures("case", self._gc_before, gc_collections()))


async def raw_case(n: int) -> Figures:
    """N idle raw tasks, each on its own channel; the parent keeps the send ends."""
    sample = Sample()
    async with trio.open_nursery() as nursery:
        sample.before_start()
        senders: list[trio.MemorySendChannel[int]] = []
        for _ in range(n):
            send, receive = trio.open_memory_channel[int](math.inf)
            nursery.start_soon(raw_idle_task, receive)
            senders.append(send)
        del send, receive
        await trio.testing.wait_all_tasks_blocked()  # every task has run up to its receive
        sample.after_start()
        _check_running(len(nursery.child_tasks), n)
        senders[-1].send_nowait(0)  # the last one works: it takes the message and ends
        await trio.testing.wait_all_tasks_blocked()
        _check_running(len(nursery.child_tasks), n - 1)
        nursery.cancel_scope.cancel()
    return sample.figures


async def otp_case(n: int, *, server: bool) -> Figures:
    """N idle children of one dynamic supervisor: GenServers, or the raw task's body."""
    sample = Sample()
    template = (
        Echo.child_spec(id="s", restart="temporary")
        if server
        else otp.ChildSpec("s", idle_receiver, restart="temporary")
    )
    async with otp.open_dynamic_supervisor(template) as sup:
        sample.before_start()
        last: otp.Child | None = None
        for _ in range(n):
            last = await sup.start_child()
        await trio.testing.wait_all_tasks_blocked()  # every server is parked on its mailbox
        sample.after_start()
        _check_running(sup.count_children().active, n)
        if last is None:
            msg = "start_child returned None"
            raise RuntimeError(msg)
        if server:  # the last one works
            reply = await last.value.call(n)
            if reply != n:
                msg = f"the server answered {reply!r} to {n}"
                raise RuntimeError(msg)
        del last
        await sup.stop()
    return sample.figures


def _check_running(running: int, expected: int) -> None:
    if running != expected:
        msg = f"expected {expected} running tasks, found {running}"
        raise RuntimeError(msg)


CASES: dict[str, Callable[[int], Awaitable[Figures]]] = {
    RAW: raw_case,
    OTP_CHILD: functools.partial(otp_case, server=False),
    OTP_SERVER: functools.partial(otp_case, server=True),
}


# --- the subprocess side ----------------------------------------------------------------------


def run_child_case(case: str, *, no_gc: bool) -> None:
    """Run one case in this (fresh) process and print its figures as one JSON line."""
    impl, size = case.split(":")
    silence_otp()
    with gc_policy(disabled=no_gc):
        figures = trio.run(CASES[impl], int(size))
    print(json.dumps(figures))


def spawn_case(impl: str, n: int, *, no_gc: bool) -> Figures:
    """Run one case in a fresh subprocess and read back its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child-case", f"{impl}:{n}"]
    if no_gc:
        command.append("--no-gc")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        msg = f"case {impl}:{n} failed (exit {done.returncode}):\n{done.stderr}"
        raise RuntimeError(msg)
    figures: Figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# --- one run ----------------------------------------------------------------------------------


def one_run(index: int, sizes: tuple[int, ...], *, no_gc: bool) -> Figures:
    """Every case once; the cases of one size run back to back, in a rotating order."""
    figures: Figures = {}
    shift = index % len(IMPLS)
    for n in sizes:
        for impl in IMPLS[shift:] + IMPLS[:shift]:
            print(f"  {impl} {n:,}", file=sys.stderr, flush=True)
            sample = spawn_case(impl, n, no_gc=no_gc)
            prefix = f"{n}.{impl}"
            figures[f"{prefix}.memory_b"] = (sample["rss_started_b"] - sample["rss_before_b"]) / n
            figures[f"{prefix}.start_us"] = sample["start_ns"] / n / 1000
            for generation in range(3):
                figures[f"{prefix}.gc{generation}"] = sample[f"case.gc{generation}"]
        for impl in IMPLS:
            for key in ("memory_b", "start_us"):
                figures[f"{n}.{impl}/{RAW}.{key}"] = ratio(
                    figures[f"{n}.{impl}.{key}"], figures[f"{n}.{RAW}.{key}"]
                )
        # What supervision costs per child, and what a GenServer costs on top of that.
        figures[f"{n}.supervision_b"] = (
            figures[f"{n}.{OTP_CHILD}.memory_b"] - figures[f"{n}.{RAW}.memory_b"]
        )
        figures[f"{n}.genserver_b"] = (
            figures[f"{n}.{OTP_SERVER}.memory_b"] - figures[f"{n}.{OTP_CHILD}.memory_b"]
        )
    return figures


# --- report -----------------------------------------------------------------------------------


def report(medians: Figures, sizes: tuple[int, ...], runs: int) -> str:
    """One table: memory and start time per server, each implementation and its ratio to raw."""
    headers = [
        f"case (median of {runs} runs)",
        "servers",
        "memory B/server",
        "vs raw",
        "start us/server",
        "vs raw",
        "gc runs 0/1/2",
    ]
    rows = [
        [
            LABELS[impl],
            f"{n:,}",
            fmt(medians[f"{n}.{impl}.memory_b"], 0),
            fmt_ratio(medians[f"{n}.{impl}/{RAW}.memory_b"]),
            fmt(medians[f"{n}.{impl}.start_us"]),
            fmt_ratio(medians[f"{n}.{impl}/{RAW}.start_us"]),
            "/".join(fmt(medians[f"{n}.{impl}.gc{gen}"], 0) for gen in range(3)),
        ]
        for n in sizes
        for impl in IMPLS
    ]
    split = "; ".join(
        f"{n:,}: supervision {fmt(medians[f'{n}.supervision_b'], 0)} B per child, "
        f"GenServer {fmt(medians[f'{n}.genserver_b'], 0)} B per server on top"
        for n in sizes
    )
    lines = [
        "Memory per idle server under a dynamic supervisor (peak RSS delta, a process per case)",
        format_table(headers, rows),
        "Ratios are the median of per-run ratios. No target (the issue sets none).",
        f"Split: {split}.",
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
        help="numbers of servers (default 10,000 and 100,000; 1,000 and 10,000 with --quick)",
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
            benchmark="server_memory",
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
