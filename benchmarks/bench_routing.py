"""Routing: calls through an otp.routing.Router against picking the member by hand.

One client makes N sequential calls to 4 named servers that reply at once; the figure is
calls per second. Variants, each in its own ``trio.run``, in an order rotated every run:

* ``by hand, round robin`` (the baseline): ``await refs[n % 4].call(n)``, the code a user
  writes without a router (no check that the member is alive, no retry elsewhere).
* ``router, round robin``, ``router, least loaded`` (reads each member's mailbox depth) and
  ``router, consistent hash`` (``key=n``, a blake2b hash and a ring lookup per call).

No target is set by the issue for routing; the table shows the cost per call.

Usage::

    python benchmarks/bench_routing.py [--runs 5] [--quick] [--json FILE] [--no-gc] [--calls N]
"""

from __future__ import annotations

import functools
import sys
import time
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
    silence_otp,
    write_json,
)

import otp
import otp.routing

FULL_CALLS = 20_000
QUICK_CALLS = 2_000
MEMBERS = 4

RAW = "raw"
VARIANTS = (RAW, "round_robin", "least_loaded", "consistent_hash")
LABELS = {
    RAW: "by hand, round robin",
    "round_robin": "router, round robin",
    "least_loaded": "router, least loaded",
    "consistent_hash": "router, consistent hash",
}


class Echo(otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        return request


async def run_variant(variant: str, calls: int) -> float:
    children = [Echo.child_spec(name=f"echo-{n}") for n in range(MEMBERS)]
    async with otp.open_supervisor(children):
        refs = [otp.named(f"echo-{n}") for n in range(MEMBERS)]
        began = time.perf_counter()
        if variant == RAW:
            for n in range(calls):
                await refs[n % MEMBERS].call(n)
        else:
            router = otp.routing.Router(refs, strategy=variant)
            keyed = variant == "consistent_hash"
            for n in range(calls):
                await router.call(n, key=n if keyed else None)
        return calls / (time.perf_counter() - began)


def one_run(index: int, calls: int, *, no_gc: bool) -> Figures:
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for variant in VARIANTS[shift:] + VARIANTS[:shift]:
        with gc_policy(disabled=no_gc):
            figures[f"{variant}.calls_per_s"] = trio.run(run_variant, variant, calls)
    for variant in VARIANTS[1:]:
        figures[f"{variant}/{RAW}"] = ratio(
            figures[f"{variant}.calls_per_s"], figures[f"{RAW}.calls_per_s"]
        )
    return figures


def report(medians: Figures, calls: int, runs: int) -> str:
    rows = [[LABELS[RAW], fmt(medians[f"{RAW}.calls_per_s"], 0), fmt_ratio(1.0)]]
    rows.extend(
        [LABELS[v], fmt(medians[f"{v}.calls_per_s"], 0), fmt_ratio(medians[f"{v}/{RAW}"])]
        for v in VARIANTS[1:]
    )
    return "\n".join(
        [
            f"Routing: {calls:,} sequential calls over {MEMBERS} servers",
            format_table([f"variant (median of {runs} runs)", "calls/s", "vs by hand"], rows),
            "Ratios are the median of per-run ratios (each run measures every variant).",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--calls", type=positive_int, default=None, help="calls per variant")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    calls = args.calls or (QUICK_CALLS if args.quick else FULL_CALLS)
    silence_otp()
    one_run(0, QUICK_CALLS, no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(args.runs, functools.partial(one_run, calls=calls, no_gc=args.no_gc))
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, calls, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="routing",
            config={"calls": calls, "members": MEMBERS, "runs": args.runs, "quick": args.quick},
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
