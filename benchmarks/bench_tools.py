"""The tool bus: the cost of a checked, audited tool call against calling the function.

One agent makes N sequential calls to a tool that returns at once (one checkpoint). The
figure is calls per second. Variants, each in its own ``trio.run``, one after the other, in
an order rotated every run:

* ``raw fail_after + await`` (the baseline): ``with trio.fail_after(5): await fn(**args)``,
  what a user writes without a bus: no permission, no validation, no audit.
* ``bus, any object``: :meth:`otp.tools.ToolBus.call` of a tool whose parameters schema is
  just ``{"type": "object"}``: permission rules, the schema check, the timeout, the audit
  event and the figures.
* ``bus, 3-field schema``: the same with a schema of three typed, required properties (the
  usual shape of a model's tool), validated by ``jsonschema`` on every call.

The issue sets no target here.

Usage::

    python benchmarks/bench_tools.py [--runs 5] [--quick] [--json FILE] [--no-gc] [--calls N]
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

import otp.tools

FULL_CALLS = 20_000
QUICK_CALLS = 2_000
ARGUMENTS = {"query": "trio", "limit": 3, "fresh": True}
SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1},
        "fresh": {"type": "boolean"},
    },
    "required": ["query", "limit", "fresh"],
    "additionalProperties": False,
}

RAW, ANY, TYPED = "raw", "any", "typed"
VARIANTS = (RAW, ANY, TYPED)
LABELS = {RAW: "raw fail_after + await", ANY: "bus, any object", TYPED: "bus, 3-field schema"}


async def search(query: str, limit: int, fresh: bool) -> int:
    await trio.lowlevel.checkpoint()
    return limit


async def run_raw(calls: int) -> None:
    for _ in range(calls):
        with trio.fail_after(5):
            assert await search(**ARGUMENTS) == 3  # type: ignore[arg-type]


def bus_runner(schema: dict[str, object] | None) -> Callable[[int], Awaitable[None]]:
    async def run(calls: int) -> None:
        bus = otp.tools.ToolBus(audit_log_size=100)
        bus.register("search", search, description="Search.", parameters=schema, timeout=5)
        bus.grant("agent", "search")
        call = bus.call
        for _ in range(calls):
            assert await call("agent", "search", ARGUMENTS) == 3
        assert bus.statistics()["search"].ok == calls

    return run


RUNNERS: dict[str, Callable[[int], Awaitable[None]]] = {
    RAW: run_raw,
    ANY: bus_runner(None),
    TYPED: bus_runner(SCHEMA),
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
    for variant in (ANY, TYPED):
        figures[f"{variant}/{RAW}"] = ratio(
            figures[f"{variant}.calls_per_s"], figures[f"{RAW}.calls_per_s"]
        )
    return figures


def report(medians: Figures, calls: int, runs: int) -> str:
    """The table."""
    rows = [[LABELS[RAW], fmt(medians[f"{RAW}.calls_per_s"], 0), fmt_ratio(1.0), ""]]
    rows.extend(
        [
            LABELS[v],
            fmt(medians[f"{v}.calls_per_s"], 0),
            fmt_ratio(medians[f"{v}/{RAW}"]),
            fmt(1e6 / medians[f"{v}.calls_per_s"] - 1e6 / medians[f"{RAW}.calls_per_s"], 1),
        ]
        for v in (ANY, TYPED)
    )
    return "\n".join(
        [
            f"Tool bus: {calls:,} sequential calls to a tool that returns at once",
            format_table(
                [f"variant (median of {runs} runs)", "calls/s", "vs raw", "µs added"], rows
            ),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            "No target (issue 12 sets none for the tool bus).",
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
            benchmark="tools",
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
