"""Cast throughput: 100,000 casts, then one call that returns once all of them were handled.

The client casts 100,000 messages (the integer 1) in a tight loop, then makes one call, which
the server answers with the sum of what it was cast (the count) and resets it. A cast never
blocks, so the casts queue up while the client runs and the server handles them afterwards,
one at a time, in order; the call is queued behind them. Reported, per variant: casts per
second (casts divided by the wall time from the first cast to the call's reply), the
client's time per cast (queueing only), and the server's time per cast (handling the queue,
and the call).

Variants, all in the same process and the same ``trio.run``, each with its own server task:

* ``otp cast``: ``ref.cast(1)``, ``handle_cast`` adds the message to ``self.count``; the
  final call is ``await ref.call("count")``.
* ``raw async for`` (the target's baseline): an unbounded memory channel; the client
  ``send_nowait``s each message, the server task runs ``async for message in receive`` and
  does the same addition. The final request is ``(slot, event)``, answered as in
  ``bench_call``'s raw event baseline.
* ``raw drain`` (a reference): the same, but the server takes queued messages with
  ``receive_nowait()`` and only awaits ``receive()`` when the channel is empty.
  ``MemoryReceiveChannel.receive()`` always checkpoints, even when a message is ready, so the
  ``async for`` loop passes through the scheduler once per message; the drain loop does not
  (and otp's loop yields once every 64 messages).

Each run repeats the trial 5 times per variant (3 with ``--quick``), the variants taking
turns in a rotating order; a run's figure is the median of its trials.

Target (from the issue): otp's casts/s at least 0.8x the baseline's.

Usage::

    python benchmarks/bench_cast.py [--runs 3] [--quick] [--json FILE] [--casts N]
                                    [--trials N] [--no-gc]
"""

from __future__ import annotations

import functools
import gc
import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

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
    positive_int,
    print_environment,
    ratio,
    run_repeatedly,
    silence_otp,
    write_json,
)

import otp

FULL_CASTS = 100_000
QUICK_CASTS = 10_000
FULL_TRIALS = 5
QUICK_TRIALS = 3
TARGET_RATIO = 0.8  # the target: otp casts/s at least 0.8x the baseline's

OTP = "otp"
RAW_LOOP = "raw_loop"
RAW_DRAIN = "raw_drain"
VARIANTS = (RAW_LOOP, RAW_DRAIN, OTP)
LABELS = {
    RAW_LOOP: "raw async for (baseline)",
    RAW_DRAIN: "raw drain (reference)",
    OTP: "otp cast",
}
BASELINE = RAW_LOOP
FIGURES = ("casts_per_s", "send_us", "handle_us")


# --- the servers ------------------------------------------------------------------------------


class Counter(otp.GenServer[str, int]):
    """The otp server: adds up what it is cast; a call takes the sum and resets it."""

    count: int

    async def init(self) -> None:
        self.count = 0

    async def handle_cast(self, message: int) -> None:
        self.count += message

    async def handle_call(self, request: str, caller: otp.Caller[int]) -> int:
        count = self.count
        self.count = 0
        return count


class Slot:
    """A one-shot reply slot: the server sets ``value``, then the event."""

    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.value = 0


class RawCounter:
    """The raw Trio server: the same additions, over an unbounded memory channel."""

    count: int

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[int | Slot](math.inf)
        self.count = 0
        self.cast = self._send.send_nowait

    async def serve_async_for(self) -> None:
        async for message in self._receive:
            if isinstance(message, Slot):
                message.value = self.count
                self.count = 0
                message.done.set()
            else:
                self.count += message

    async def serve_drain(self) -> None:
        receive = self._receive
        while True:
            try:
                message = receive.receive_nowait()
            except trio.WouldBlock:
                message = await receive.receive()
            if isinstance(message, Slot):
                message.value = self.count
                self.count = 0
                message.done.set()
            else:
                self.count += message

    async def request_count(self) -> int:
        slot = Slot()
        self._send.send_nowait(slot)
        await slot.done.wait()
        return slot.value


class Client:
    """One variant: how to cast, how to ask for the count, and what was measured."""

    def __init__(
        self, variant: str, cast: Callable[[int], None], count: Callable[[], Awaitable[int]]
    ) -> None:
        self.variant = variant
        self.cast = cast
        self.count = count
        self.trials: list[dict[str, float]] = []
        self.gc_runs = [0, 0, 0]

    async def trial(self, casts: int) -> dict[str, float]:
        """Cast ``casts`` times, then ask for the count; time both phases."""
        cast = self.cast
        clock = time.perf_counter_ns
        began = clock()
        for _ in range(casts):
            cast(1)
        sent = clock()
        counted = await self.count()
        done = clock()
        if counted != casts:
            msg = f"{self.variant}: {casts} casts, but the server counted {counted}"
            raise RuntimeError(msg)
        return {
            "casts_per_s": casts / ((done - began) / 1e9),
            "send_us": (sent - began) / casts / 1000,
            "handle_us": (done - sent) / casts / 1000,
        }


async def start_clients(nursery: trio.Nursery, variants: Sequence[str]) -> list[Client]:
    """Start one server per variant in ``nursery``; return the clients, in the same order."""
    clients = []
    for variant in variants:
        if variant == OTP:
            ref: otp.ServerRef[str, int] = await nursery.start(Counter.start)
            clients.append(Client(variant, ref.cast, functools.partial(ref.call, "count")))
        else:
            raw = RawCounter()
            serve = raw.serve_async_for if variant == RAW_LOOP else raw.serve_drain
            nursery.start_soon(serve)
            clients.append(Client(variant, raw.cast, raw.request_count))
    return clients


# --- the conductor ----------------------------------------------------------------------------


class GcAttribution:
    """Counts each garbage collection against the variant whose trial was running."""

    def __init__(self) -> None:
        self.current: Client | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and self.current is not None:
            self.current.gc_runs[info["generation"]] += 1


async def conduct(
    variants: Sequence[str], casts: int, trials: int, attribution: GcAttribution
) -> list[Client]:
    """Start every server, warm each up with one untimed trial, then take turns."""
    async with trio.open_nursery() as nursery:
        clients = await start_clients(nursery, variants)
        for client in clients:
            await client.trial(min(casts, QUICK_CASTS))  # untimed
        for turn in range(trials):
            # Rotated every round, so no variant always follows the same other one.
            shift = turn % len(clients)
            for client in [*clients[shift:], *clients[:shift]]:
                attribution.current = client
                client.trials.append(await client.trial(casts))
                attribution.current = None
        nursery.cancel_scope.cancel()
    return clients


def one_run(index: int, casts: int, trials: int, *, no_gc: bool) -> Figures:
    """All variants in one trio.run; the order of turns starts elsewhere each run."""
    shift = index % len(VARIANTS)
    attribution = GcAttribution()
    with gc_policy(disabled=no_gc):
        gc.callbacks.append(attribution)
        try:
            clients = trio.run(
                conduct, VARIANTS[shift:] + VARIANTS[:shift], casts, trials, attribution
            )
        finally:
            gc.callbacks.remove(attribution)
    figures: Figures = {}
    for client in clients:
        for key in FIGURES:
            figures[f"{client.variant}.{key}"] = median([trial[key] for trial in client.trials])
        for generation, runs in enumerate(client.gc_runs):
            figures[f"{client.variant}.gc{generation}"] = runs / trials
    for variant in VARIANTS:
        # Throughput: above 1 is faster than the baseline; times per cast: above 1 is slower.
        for base in (BASELINE, RAW_DRAIN):
            for key in FIGURES:
                figures[f"{variant}/{base}.{key}"] = ratio(
                    figures[f"{variant}.{key}"], figures[f"{base}.{key}"]
                )
    return figures


# --- report -----------------------------------------------------------------------------------


def report(medians: Figures, casts: int, trials: int, runs: int) -> str:
    """The plain-text table: throughput and time per cast, and the ratios to the baseline."""
    headers = [
        f"variant (median of {runs} runs)",
        "casts/s",
        "vs baseline",
        "client us/cast",
        "server us/cast",
        "gc runs 0/1/2 per trial",
    ]
    rows = [
        [
            LABELS[variant],
            fmt(medians[f"{variant}.casts_per_s"], 0),
            fmt_ratio(medians[f"{variant}/{BASELINE}.casts_per_s"]),
            fmt(medians[f"{variant}.send_us"], 3),
            fmt(medians[f"{variant}.handle_us"], 3),
            "/".join(fmt(medians[f"{variant}.gc{gen}"], 0) for gen in range(3)),
        ]
        for variant in VARIANTS
    ]
    value = medians[f"{OTP}/{BASELINE}.casts_per_s"]
    verdict = "met" if value >= TARGET_RATIO else "MISSED"
    drain = medians[f"{OTP}/{RAW_DRAIN}.casts_per_s"]
    lines = [
        (
            f"Cast throughput: {casts:,} casts then one call, {trials} trials per variant per "
            "run, variants taking turns"
        ),
        format_table(headers, rows),
        (
            "casts/s: casts / (first cast to the call's reply); client: queueing a cast; "
            "server: handling the queue and the call. Ratios are the median of per-run ratios."
        ),
        f"otp against the raw drain loop (a reference): {fmt_ratio(drain)} casts/s.",
        f"Target: otp casts/s >= {TARGET_RATIO}x raw async for -> {value:.3f}x ({verdict})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument(
        "--casts",
        type=positive_int,
        help=f"casts per trial (default {FULL_CASTS:,}; {QUICK_CASTS:,} with --quick)",
    )
    parser.add_argument(
        "--trials",
        type=positive_int,
        help=f"trials per variant per run (default {FULL_TRIALS}; {QUICK_TRIALS} with --quick)",
    )
    args = parser.parse_args(argv)
    casts: int = args.casts or (QUICK_CASTS if args.quick else FULL_CASTS)
    trials: int = args.trials or (QUICK_TRIALS if args.quick else FULL_TRIALS)
    silence_otp()
    runs = run_repeatedly(
        args.runs, functools.partial(one_run, casts=casts, trials=trials, no_gc=args.no_gc)
    )
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, casts, trials, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="cast",
            config={
                "casts": casts,
                "trials": trials,
                "runs": args.runs,
                "quick": args.quick,
                "gc_disabled": args.no_gc,
                "message": "the int 1, added to a counter",
            },
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
