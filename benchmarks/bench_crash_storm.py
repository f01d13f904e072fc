"""Crash storm: what crash reports cost a child that crashes as fast as it can restart.

One child crashes at once after every start, under
``otp.supervisor([spec], intensity=10**9, period=1.0)`` on Trio's real clock, until it has
been restarted N times. Each variant runs its own ``trio.run`` of the same storm; the time
per restart is the storm's wall time over N. Variants:

* ``raw restart loop``: the baseline, a hand-written loop (a wrapper task posts the child's
  crash to a parent loop through a memory channel; the parent starts a new child), no logging.
* ``raw loop, logging each crash``: the same loop calling ``logger.exception`` on every crash,
  to the same log file: what logging every traceback costs by itself.
* ``otp, reports off``: the ``otp`` logger above ``ERROR``, no hooks: no report is even built.
* ``otp, reports on (default limit)``: crash reports go to a log file, as a service logs them;
  the supervisor's default :class:`otp.ReportLimit` (100 a second) summarises the rest.
* ``otp, reports on, no limit``: ``report_limit=None``, every crash's traceback is logged.

Reports go to a ``logging.FileHandler`` in a temporary directory with a usual format, so each
logged crash pays for formatting its traceback and writing it. The variants run one after the
other in one process, in an order rotated every run. Target: reports on (default limit) at
most 1.3x reports off, in the same run.

Usage::

    python benchmarks/bench_crash_storm.py [--runs 5] [--quick] [--json FILE] [--restarts N]
                                           [--no-gc]
"""

from __future__ import annotations

import functools
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

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
from _storm import Crash, Storm, otp_storm, raw_storm

import otp

FULL_RESTARTS = 20_000
QUICK_RESTARTS = 2_000
TARGET_RATIO = 1.3  # the target: reports on at most 1.3x reports off

RAW = "raw"
RAW_LOGGED = "raw_logged"
OTP_OFF = "otp_off"
OTP_LIMITED = "otp_limited"
OTP_UNLIMITED = "otp_unlimited"
VARIANTS = (RAW, RAW_LOGGED, OTP_OFF, OTP_LIMITED, OTP_UNLIMITED)
LABELS = {
    RAW: "raw restart loop",
    RAW_LOGGED: "raw loop, logging each crash",
    OTP_OFF: "otp, reports off",
    OTP_LIMITED: "otp, reports on (default limit)",
    OTP_UNLIMITED: "otp, reports on, no limit",
}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CountingFilter(logging.Filter):
    """Counts the records that reach the log file (crash reports and summaries)."""

    def __init__(self) -> None:
        super().__init__()
        self.records = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.records += 1
        return True


# --- the variants -----------------------------------------------------------------------------


def variant_runner(variant: str, raw_logger: logging.Logger) -> Callable[[Storm], Awaitable[None]]:
    """The coroutine function that runs one variant's storm."""
    if variant == RAW:
        return raw_storm
    if variant == RAW_LOGGED:

        def log(crash: Crash) -> None:
            raw_logger.error("child 'storm' crashed; restarting", exc_info=crash)

        return functools.partial(raw_storm, on_crash=log)
    if variant == OTP_UNLIMITED:
        return functools.partial(otp_storm, report_limit=None)
    return functools.partial(otp_storm, report_limit=otp.ReportLimit())


def time_storm(variant: str, restarts: int, log_file: Path, *, no_gc: bool) -> Figures:
    """One variant's storm in its own trio.run: microseconds per restart, records logged."""
    otp_logger = logging.getLogger("otp")
    raw_logger = logging.getLogger("bench.crash_storm")
    handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    counter = CountingFilter()
    handler.addFilter(counter)
    for logger in (otp_logger, raw_logger):
        logger.addHandler(handler)
        logger.propagate = False
    # Reports on: the level Python logs at by default (WARNING). Off: nothing is built.
    otp_logger.setLevel(logging.CRITICAL if variant == OTP_OFF else logging.WARNING)
    raw_logger.setLevel(logging.WARNING)
    storm = Storm(restarts)
    runner = variant_runner(variant, raw_logger)
    try:
        with gc_policy(disabled=no_gc):
            began = time.perf_counter_ns()
            trio.run(runner, storm)
            elapsed_ns = time.perf_counter_ns() - began
    finally:
        for logger in (otp_logger, raw_logger):
            logger.removeHandler(handler)
        handler.close()
    if storm.starts != restarts + 1:
        msg = f"{variant}: expected {restarts + 1} starts, got {storm.starts}"
        raise RuntimeError(msg)
    return {
        f"{variant}.us_per_restart": elapsed_ns / restarts / 1000,
        f"{variant}.records": float(counter.records),
        f"{variant}.log_kib": log_file.stat().st_size / 1024,
    }


def one_run(index: int, restarts: int, *, no_gc: bool) -> Figures:
    """Every variant's storm, one after the other, starting at a different one each run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    with tempfile.TemporaryDirectory(prefix="otp-crash-storm-") as directory:
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            log_file = Path(directory) / f"{variant}.log"
            figures.update(time_storm(variant, restarts, log_file, no_gc=no_gc))

    def per_restart(variant: str) -> float:
        return figures[f"{variant}.us_per_restart"]

    for variant in VARIANTS:
        figures[f"{variant}/{RAW}"] = ratio(per_restart(variant), per_restart(RAW))
    figures[f"{OTP_LIMITED}/{OTP_OFF}"] = ratio(per_restart(OTP_LIMITED), per_restart(OTP_OFF))
    figures[f"{OTP_UNLIMITED}/{OTP_OFF}"] = ratio(per_restart(OTP_UNLIMITED), per_restart(OTP_OFF))
    return figures


def report(medians: Figures, restarts: int, runs: int) -> str:
    """The plain-text table and the verdict on the target."""
    headers = [
        f"variant (median of {runs} runs)",
        "us/restart",
        "x raw loop",
        "records logged",
        "log KiB",
    ]
    rows = [
        [
            LABELS[variant],
            fmt(medians[f"{variant}.us_per_restart"], 2),
            fmt_ratio(medians[f"{variant}/{RAW}"]),
            fmt(medians[f"{variant}.records"], 0),
            fmt(medians[f"{variant}.log_kib"], 0),
        ]
        for variant in VARIANTS
    ]
    limited = medians[f"{OTP_LIMITED}/{OTP_OFF}"]
    unlimited = medians[f"{OTP_UNLIMITED}/{OTP_OFF}"]
    verdict = "met" if limited <= TARGET_RATIO else "MISSED"
    return "\n".join(
        [
            f"Crash storm: one child restarted {restarts:,} times as fast as it crashes",
            format_table(headers, rows),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            f"reports on, no limit / reports off: {fmt_ratio(unlimited)}",
            (
                f"Target: reports on (default limit) <= {TARGET_RATIO}x reports off -> "
                f"{fmt_ratio(limited)} ({verdict})"
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.set_defaults(runs=5)
    parser.add_argument(
        "--restarts",
        type=positive_int,
        help=f"restarts per storm (default {FULL_RESTARTS:,}; {QUICK_RESTARTS:,} with --quick)",
    )
    args = parser.parse_args(argv)
    restarts: int = args.restarts or (QUICK_RESTARTS if args.quick else FULL_RESTARTS)
    one_run(0, min(restarts, QUICK_RESTARTS), no_gc=False)  # warm-up, not reported
    runs = run_repeatedly(
        args.runs, functools.partial(one_run, restarts=restarts, no_gc=args.no_gc)
    )
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, restarts, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="crash_storm",
            config={
                "restarts": restarts,
                "runs": args.runs,
                "quick": args.quick,
                "gc_disabled": args.no_gc,
                "report_limit": {"max_reports": 100, "window": 1.0},
                "log_level": "WARNING",
                "log_format": LOG_FORMAT,
                "clock": "trio default (real)",
            },
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
