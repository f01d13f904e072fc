"""Shared plumbing for the benchmarks: arguments, statistics, tables, JSON and environment.

Only the standard library, Trio and otp are used, so the benchmarks add no dependency.

A run produces a flat mapping of figure names to numbers (``"otp.late.p99_us"``); the
report is the median of each figure across runs, which keeps one noisy run from deciding the
result on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeAlias

import trio

import otp

Figures: TypeAlias = dict[str, float]
"""One run's results: figure name to value."""

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None

REPO_ROOT = Path(__file__).resolve().parent.parent


# --- arguments --------------------------------------------------------------------------------


def make_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes; a benchmark adds its own on top."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--runs",
        type=positive_int,
        default=3,
        help="independent runs; every figure reported is the median across them (default 3)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smaller version for smoke tests (numbers are not comparable with a full run)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write every figure (per run and medians) and the environment as JSON",
    )
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="disable the cyclic garbage collector while measuring (diagnostic only: "
        "real programs run with it)",
    )
    return parser


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1."""
    value = int(text)
    if value < 1:
        msg = f"must be >= 1 (got {value})"
        raise argparse.ArgumentTypeError(msg)
    return value


# --- measuring --------------------------------------------------------------------------------


def silence_otp() -> None:
    """Keep crash reports off the terminal and out of the timings.

    Above ERROR, otp's reporter does not even build its event records, which is the cheapest
    configuration and the one a benchmark of the core should measure.
    """
    logging.getLogger("otp").setLevel(logging.CRITICAL)


@contextmanager
def gc_policy(*, disabled: bool) -> Iterator[None]:
    """Start from a clean heap, and optionally keep the cyclic collector off inside."""
    gc.collect()
    was_enabled = gc.isenabled()
    if disabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def gc_collections() -> list[int]:
    """How many collections each generation has run so far (to diff around a measurement)."""
    return [generation["collections"] for generation in gc.get_stats()]


def gc_figures(prefix: str, before: Sequence[int], after: Sequence[int]) -> Figures:
    """Collections per generation between two :func:`gc_collections` snapshots."""
    return {
        f"{prefix}.gc{generation}": float(end - start)
        for generation, (start, end) in enumerate(zip(before, after, strict=True))
    }


# --- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in ``(0, 1]``) of ``values``.

    Nearest rank always returns an observed sample, so a p99 is a latency that really
    happened rather than an interpolation between two of them.
    """
    if not values:
        msg = "percentile of no values"
        raise ValueError(msg)
    if not 0 < fraction <= 1:
        msg = f"fraction must be in (0, 1] (got {fraction})"
        raise ValueError(msg)
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered))
    return float(ordered[rank - 1])


def median(values: Sequence[float]) -> float:
    """The median, as a float."""
    return float(statistics.median(values))


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else math.nan


def median_of_runs(runs: Sequence[Mapping[str, float]]) -> Figures:
    """The median of each figure across runs (figures missing from a run are skipped)."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run))
    result: Figures = {}
    for name in names:
        values = [run[name] for run in runs if not math.isnan(run.get(name, math.nan))]
        result[name] = median(values) if values else math.nan
    return result


# --- output -----------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    """A number for a table cell; ``-`` for a missing one."""
    if math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float) -> str:
    """A ratio for a table cell, as ``1.23x``."""
    return "-" if math.isnan(value) else f"{value:.2f}x"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[index]) if index == 0 else cell.rjust(widths[index])
            for index, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def environment() -> dict[str, JsonValue]:
    """Where the figures come from: versions, machine and the state of the working tree."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "trio": trio.__version__,
        "otp": otp.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "git": _git_state(),
    }


def _cpu_model() -> str:
    # platform.processor() is empty on most Linux systems; /proc/cpuinfo has the model name.
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_state() -> dict[str, JsonValue] | None:
    # The benchmarks measure the working tree (an editable install), so a figure is only
    # meaningful together with the commit and whether the library had local changes.
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--", "otp")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "otp_modified": bool(dirty)}


def print_environment() -> None:
    """One line naming the versions and the machine, above the tables."""
    env = environment()
    print(
        f"python {env['python']}, trio {env['trio']}, otp {env['otp']}, "
        f"{env['machine']} x{env['cpu_count']} ({env['cpu']})"
    )


def write_json(
    path: Path,
    *,
    benchmark: str,
    config: Mapping[str, JsonValue],
    runs: Sequence[Mapping[str, float]],
    medians: Mapping[str, float],
) -> None:
    """Write a benchmark's figures, per run and medians, with the environment."""
    argv: list[JsonValue] = list(sys.argv[1:])
    payload: dict[str, JsonValue] = {
        "benchmark": benchmark,
        "argv": argv,
        "config": dict(config),
        "environment": environment(),
        "runs": [_json_figures(run) for run in runs],
        "medians": _json_figures(medians),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _json_figures(figures: Mapping[str, float]) -> dict[str, JsonValue]:
    # JSON has no NaN: a figure that could not be computed is null.
    return {name: None if math.isnan(value) else value for name, value in figures.items()}


def run_repeatedly(runs: int, once: Callable[[int], Figures]) -> list[Figures]:
    """Call ``once(index)`` ``runs`` times, telling the user where it stands (on stderr)."""
    results: list[Figures] = []
    for index in range(runs):
        print(f"run {index + 1}/{runs} ...", file=sys.stderr, flush=True)
        results.append(once(index))
    return results
