"""Metrics overhead: the call and restart paths with otp.metrics on against off.

Calls: one client makes sequential calls to servers that reply at once, in one ``trio.run``,
taking turns in blocks of 500 calls: a raw Trio server (an Event-slot reply through a memory
channel, the baseline), an otp server started outside any :func:`otp.observe_calls` block
(metrics off), and one started inside ``otp.observe_calls(tree_metrics.on_call)`` under a
supervisor with ``hooks=[tree_metrics.hook]`` (metrics on: every call counted by outcome
and timed into a histogram). The figure is calls per second over the blocks of each.

Restarts: one child crashes at its first checkpoint after every start until it has been
restarted 1,000 times, under ``otp.supervisor(intensity=10**9)``, with no hooks (off) and with
``hooks=[tree_metrics.hook]`` (on: each restart's reports counted); the baseline is a
hand-written restart loop. The variants take turns in one ``trio.run``, a fresh storm for
each block of 1,000 restarts, so that drift in the machine's speed falls on all of them.

Target (issue 10): metrics on costs at most 10% more than off, on both paths.

Usage::

    python benchmarks/bench_metrics.py [--runs 5] [--quick] [--json FILE] [--no-gc]
"""

from __future__ import annotations

import functools
import math
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
    print_environment,
    ratio,
    run_repeatedly,
    silence_otp,
    write_json,
)
from _storm import Storm, otp_storm, raw_storm

import otp
import otp.metrics

TARGET_OVERHEAD = 0.10
FULL_CALLS, QUICK_CALLS = 40_000, 4_000
FULL_RESTARTS, QUICK_RESTARTS = 20_000, 2_000
BLOCK = 500
RESTART_BLOCK = 1_000

RAW, OFF, ON = "raw", "off", "on"
LABELS = {RAW: "raw Trio baseline", OFF: "otp, metrics off", ON: "otp, metrics on"}


class Echo(otp.GenServer[int, int]):
    """Replies with the request, at once."""

    async def handle_call(self, request: int, caller: otp.Caller[int]) -> int:
        return request


class Slot:
    """The raw baseline's reply slot."""

    __slots__ = ("event", "value")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.value = 0


async def raw_server(receive: trio.MemoryReceiveChannel[tuple[int, Slot]]) -> None:
    """Answer each request by filling its slot and setting its event."""
    async for request, slot in receive:
        slot.value = request
        slot.event.set()


# --- calls ------------------------------------------------------------------------------------


async def call_variants(calls: int, figures: Figures) -> None:
    """Every call variant in one run, in blocks, rotating which goes first."""
    tree_metrics = otp.metrics.TreeMetrics()
    send, receive = trio.open_memory_channel[tuple[int, Slot]](math.inf)

    async def raw_call(n: int) -> int:
        slot = Slot()
        send.send_nowait((n, slot))
        await slot.event.wait()
        return slot.value

    async with trio.open_nursery() as nursery:
        nursery.start_soon(raw_server, receive)
        off_sup = await nursery.start(
            functools.partial(otp.supervisor, [Echo.child_spec(id="echo")], name="off")
        )
        with otp.observe_calls(tree_metrics.on_call):
            on_sup = await nursery.start(
                functools.partial(
                    otp.supervisor,
                    [Echo.child_spec(id="echo")],
                    name="on",
                    hooks=[tree_metrics.hook],
                )
            )
        off_ref = off_sup.get_child("echo").value
        on_ref = on_sup.get_child("echo").value
        makers: dict[str, Callable[[int], Awaitable[Any]]] = {
            RAW: raw_call,
            OFF: off_ref.call,
            ON: on_ref.call,
        }
        spent = dict.fromkeys(makers, 0)
        order = list(makers)
        for block in range(calls // BLOCK):
            for variant in order[block % 3 :] + order[: block % 3]:
                call = makers[variant]
                began = time.perf_counter_ns()
                for n in range(BLOCK):
                    await call(n)
                spent[variant] += time.perf_counter_ns() - began
        nursery.cancel_scope.cancel()
    done = calls // BLOCK * BLOCK
    for variant, nanoseconds in spent.items():
        figures[f"calls.{variant}.per_s"] = done / (nanoseconds / 1e9)
    observed = tree_metrics.metrics.value(
        "otp_calls_total", server=on_ref.description, outcome="ok"
    )
    if observed != done:
        msg = f"metrics on counted {observed} calls, expected {done}"
        raise RuntimeError(msg)


# --- restarts ---------------------------------------------------------------------------------


async def restart_variants(restarts: int, figures: Figures) -> None:
    """Every restart variant in one run, in blocks (a fresh storm each), rotating the order."""
    tree_metrics = otp.metrics.TreeMetrics()
    runners: dict[str, Callable[[Storm], Awaitable[None]]] = {
        RAW: raw_storm,
        OFF: functools.partial(otp_storm, hooks=[]),
        ON: functools.partial(otp_storm, hooks=[tree_metrics.hook]),
    }
    spent = dict.fromkeys(runners, 0)
    order = list(runners)
    blocks = max(1, restarts // RESTART_BLOCK)
    for block in range(blocks):
        for variant in order[block % 3 :] + order[: block % 3]:
            began = time.perf_counter_ns()
            await runners[variant](Storm(RESTART_BLOCK))
            spent[variant] += time.perf_counter_ns() - began
    done = blocks * RESTART_BLOCK
    for variant, nanoseconds in spent.items():
        figures[f"restarts.{variant}.us"] = nanoseconds / done / 1000
    counted = tree_metrics.metrics.value(
        "otp_child_restarts_total", supervisor="supervisor", child="storm"
    )
    if counted != done:
        msg = f"metrics on counted {counted} restarts, expected {done}"
        raise RuntimeError(msg)


# --- a run ------------------------------------------------------------------------------------


def one_run(index: int, calls: int, restarts: int, *, no_gc: bool) -> Figures:
    """The call variants together in one Trio run, then the restart variants in another."""
    figures: Figures = {}
    with gc_policy(disabled=no_gc):
        trio.run(call_variants, calls, figures)
        trio.run(restart_variants, restarts, figures)
    figures["calls.overhead"] = (
        ratio(figures[f"calls.{OFF}.per_s"], figures[f"calls.{ON}.per_s"]) - 1
    )
    figures["restarts.overhead"] = (
        ratio(figures[f"restarts.{ON}.us"], figures[f"restarts.{OFF}.us"]) - 1
    )
    for variant in (OFF, ON):
        figures[f"calls.{variant}/raw"] = ratio(
            figures[f"calls.{variant}.per_s"], figures[f"calls.{RAW}.per_s"]
        )
        figures[f"restarts.{variant}/raw"] = ratio(
            figures[f"restarts.{variant}.us"], figures[f"restarts.{RAW}.us"]
        )
    return figures


def report(medians: Figures, calls: int, restarts: int, runs: int) -> str:
    """The table and the verdicts."""
    headers = [
        f"variant (median of {runs} runs)",
        "calls/s",
        "calls vs raw",
        "us per restart",
        "restart vs raw",
    ]
    rows = [
        [
            LABELS[variant],
            fmt(medians[f"calls.{variant}.per_s"], 0),
            "1.00x" if variant == RAW else fmt_ratio(medians[f"calls.{variant}/raw"]),
            fmt(medians[f"restarts.{variant}.us"], 2),
            "1.00x" if variant == RAW else fmt_ratio(medians[f"restarts.{variant}/raw"]),
        ]
        for variant in (RAW, OFF, ON)
    ]
    calls_over = medians["calls.overhead"]
    restarts_over = medians["restarts.overhead"]

    def verdict(value: float) -> str:
        return "met" if value <= TARGET_OVERHEAD else "MISSED"

    return "\n".join(
        [
            f"Metrics overhead: {calls:,} calls (blocks of {BLOCK}), {restarts:,} restarts",
            format_table(headers, rows),
            "Overheads are the median of per-run overheads (on against off, same run).",
            (
                f"Target: metrics on <= +{TARGET_OVERHEAD:.0%} -> calls {calls_over:+.1%} "
                f"({verdict(calls_over)}), restarts {restarts_over:+.1%} "
                f"({verdict(restarts_over)})"
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    calls = QUICK_CALLS if args.quick else FULL_CALLS
    restarts = QUICK_RESTARTS if args.quick else FULL_RESTARTS
    silence_otp()
    one_run(0, QUICK_CALLS, QUICK_RESTARTS, no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(
        args.runs,
        functools.partial(one_run, calls=calls, restarts=restarts, no_gc=args.no_gc),
    )
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, calls, restarts, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="metrics",
            config={
                "calls": calls,
                "restarts": restarts,
                "block": BLOCK,
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
