"""The results of a run: a table (plain text, or rich's on a terminal) and a JSON document.

The plain table uses only ASCII and fixed columns, so that it reads the same in a terminal,
a CI log and the docs. rich draws the same rows when it is installed and the output is a
terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TextIO

import attrs

from otp.testing import FaultKind

from ._runner import RunConfig, RunResult

__all__ = ["SCHEMA", "Report", "render_plain", "render_rich", "to_json", "use_rich"]

SCHEMA = "otp.bench/1"
"""The ``schema`` field of the JSON document; bumped when a field changes meaning."""


@attrs.frozen
class Report:
    """A finished run with what is needed to describe it."""

    config: RunConfig
    result: RunResult
    faults: str
    """How the plan was chosen: ``"default rates"``, ``"no faults"``, the rates, or a file."""

    @property
    def dead(self) -> list[str]:
        """Paths of the permanent children down at the end with no supervisor's decision."""
        return [down.path for down in self.result.down if down.decided is None]

    @property
    def exit_status(self) -> int:
        """0 for a clean run, else 1.

        1 if tasks were orphaned, the tree failed during the run, or a permanent child ended
        the run down without a supervisor having decided it.
        """
        failed = self.result.orphans or self.result.tree_failure or self.dead
        return 1 if failed else 0


# --- cells -------------------------------------------------------------------------------------


def _count(value: int) -> str:
    return f"{value:,}"


def _ms(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    return f"{seconds * 1000:,.1f} ms"


def _percent(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{ratio * 100:.2f}%"


def _memory(size: int | None) -> str:
    return "-" if size is None else f"{size / 2**20:,.1f} MiB"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def header(report: Report) -> str:
    """One line: what ran, for how long, under which faults."""
    config = report.config
    clock = "virtual time" if config.virtual_time else "real time"
    planned = len(config.plan.faults)
    return (
        f"otp-bench: {config.tree.label}, {_seconds(config.duration)} of {clock}, "
        f"seed {config.seed}, {config.rate:g} calls/s, {_seconds(config.timeout)} timeout, "
        f"{planned} {'fault' if planned == 1 else 'faults'} ({report.faults})"
    )


def summary_rows(report: Report) -> list[tuple[str, str]]:
    """The main table: calls, availability, restarts, memory, orphans."""
    metrics = report.result.metrics
    latency = metrics.restart_latency
    orphans = len(report.result.orphans)
    return [
        ("calls issued", _count(metrics.issued)),
        ("calls served", _count(metrics.served)),
        ("calls failed", _count(metrics.failed)),
        ("calls timed out", _count(metrics.timed_out)),
        ("availability", _percent(metrics.availability)),
        ("restart latency p50", _ms(latency.p50)),
        ("restart latency p99", _ms(latency.p99)),
        ("restarts", _count(metrics.total_restarts)),
        ("escalations", _count(metrics.total_escalations)),
        ("peak memory", _memory(report.result.peak_memory)),
        ("orphaned tasks", _count(orphans) if orphans else "0 (none)"),
        ("down at the end", _down_cell(report)),
        ("tree", _tree_cell(report)),
    ]


def _down_cell(report: Report) -> str:
    down = len(report.result.down)
    if not down:
        return "0 (none)"
    dead = len(report.dead)
    return f"{down:,} ({dead:,} DEAD)" if dead else f"{down:,} (by a supervisor)"


def _tree_cell(report: Report) -> str:
    if report.result.tree_failure:
        return "failed"
    if report.dead:
        return "ran to the end, PART DEAD"
    return "ran to the end"


DOWN_HEADERS = ("down at the end", "state", "restart", "decided by")


def down_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """One row per child not running when the run ended."""
    return [
        (down.path, down.state, down.restart, down.decided or "NOBODY: a dead subtree")
        for down in report.result.down
    ]


FAULT_HEADERS = (
    "fault kind",
    "planned",
    "applied",
    "effective",
    "recovered",
    "recovery p50",
    "recovery max",
)


def fault_rows(report: Report) -> list[tuple[str, ...]]:
    """One row per fault kind in the plan: how many, how many hit, how fast they healed."""
    metrics = report.result.metrics
    rows: list[tuple[str, ...]] = []
    for kind in FaultKind:
        results = [r for r in metrics.faults if r.fault.kind is kind]
        if not results:
            continue
        recovery = metrics.recovery[kind]
        rows.append(
            (
                kind.value,
                _count(len(results)),
                _count(sum(1 for r in results if r.applied)),
                _count(sum(1 for r in results if r.effective is not None)),
                _count(recovery.count),
                _ms(recovery.p50),
                _ms(recovery.max),
            )
        )
    return rows


SUPERVISOR_HEADERS = ("supervisor", "restarts", "escalations")


def supervisor_rows(report: Report) -> list[tuple[str, str, str]]:
    """One row per supervisor, in tree order."""
    metrics = report.result.metrics
    return [
        (name, _count(count), _count(metrics.escalations.get(name, 0)))
        for name, count in metrics.restarts.items()
    ]


def problems(report: Report) -> list[str]:
    """What made the run fail, one line each (empty for a clean run)."""
    lines = []
    if report.result.tree_failure:
        lines.append(report.result.tree_failure)
    if report.result.orphans:
        names = ", ".join(report.result.orphans)
        lines.append(f"{len(report.result.orphans)} otp task(s) outlived the tree: {names}")
    if report.dead:
        names = ", ".join(report.dead)
        lines.append(
            f"{len(report.dead)} permanent child(ren) ended the run down, and no supervisor "
            f"decided it (none gave up): {names}"
        )
    return lines


# --- plain text --------------------------------------------------------------------------------


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


def render_plain(report: Report) -> str:
    """The whole report as plain text, ending with a newline."""
    parts = [header(report), format_table(("metric", "value"), summary_rows(report))]
    faults = fault_rows(report)
    if faults:
        parts.append(format_table(FAULT_HEADERS, faults))
    parts.append(format_table(SUPERVISOR_HEADERS, supervisor_rows(report)))
    down = down_rows(report)
    if down:
        parts.append(format_table(DOWN_HEADERS, down))
    return "\n\n".join(parts) + "\n"


# --- rich --------------------------------------------------------------------------------------


def use_rich(stream: TextIO) -> bool:
    """Whether to draw with rich: it is installed and ``stream`` is a terminal."""
    isatty = getattr(stream, "isatty", None)
    if not (callable(isatty) and isatty()):
        return False
    try:
        import rich  # noqa: F401, PLC0415  (optional: only asking whether it is there)
    except ImportError:
        return False
    return True


def render_rich(report: Report, stream: TextIO) -> None:
    """Draw the report's tables with rich on ``stream``."""
    from rich.console import Console  # noqa: PLC0415  (rich is optional)
    from rich.table import Table  # noqa: PLC0415

    console = Console(file=stream)
    console.print(header(report), highlight=False)

    def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
        drawn = Table(title=title, title_justify="left")
        for index, name in enumerate(headers):
            drawn.add_column(name, justify="left" if index == 0 else "right")
        for row in rows:
            drawn.add_row(*row)
        return drawn

    console.print(table("Summary", ("metric", "value"), summary_rows(report)))
    faults = fault_rows(report)
    if faults:
        console.print(table("Faults", FAULT_HEADERS, faults))
    console.print(table("Supervisors", SUPERVISOR_HEADERS, supervisor_rows(report)))
    down = down_rows(report)
    if down:
        console.print(table("Down at the end", DOWN_HEADERS, down))


# --- JSON --------------------------------------------------------------------------------------


def _number(value: float | None) -> float | None:
    # JSON has no NaN: a figure that could not be computed is null.
    return None if value is None or math.isnan(value) else value


def to_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (see the docs for the schema)."""
    config = report.config
    result = report.result
    metrics = result.metrics
    latency = metrics.restart_latency
    return {
        "schema": SCHEMA,
        "config": {
            "tree": config.tree.label,
            "duration": config.duration,
            "rate": config.rate,
            "timeout": config.timeout,
            "clients": config.clients,
            "seed": config.seed,
            "virtual_time": config.virtual_time,
            "faults": report.faults,
        },
        "calls": {
            "issued": metrics.issued,
            "served": metrics.served,
            "failed": metrics.failed,
            "timed_out": metrics.timed_out,
            "availability": _number(metrics.availability),
            "errors": dict(metrics.errors),
        },
        "restart_latency": {
            "count": latency.count,
            "p50": _number(latency.p50),
            "p90": _number(latency.p90),
            "p99": _number(latency.p99),
            "max": _number(latency.max),
        },
        "restarts": metrics.total_restarts,
        "escalations": metrics.total_escalations,
        "supervisors": {
            name: {"restarts": count, "escalations": metrics.escalations.get(name, 0)}
            for name, count in metrics.restarts.items()
        },
        "recovery": {
            kind.value: {
                "planned": sum(1 for r in metrics.faults if r.fault.kind is kind),
                "applied": sum(1 for r in metrics.faults if r.fault.kind is kind and r.applied),
                "effective": sum(
                    1 for r in metrics.faults if r.fault.kind is kind and r.effective is not None
                ),
                "recovered": summary.count,
                "p50": _number(summary.p50),
                "p90": _number(summary.p90),
                "max": _number(summary.max),
            }
            for kind, summary in metrics.recovery.items()
            if any(r.fault.kind is kind for r in metrics.faults)
        },
        "faults": [
            {
                "at": r.fault.at,
                "kind": r.fault.kind.value,
                "target": r.fault.target,
                "delay": r.fault.delay,
                "duration": r.fault.duration,
                "fired": r.fired,
                "applied": r.applied,
                "note": r.note,
                "effective": r.effective,
                "recovery": r.recovery,
            }
            for r in metrics.faults
        ],
        "timeseries": {
            "second": list(range(metrics.seconds)),
            "issued": list(metrics.series_issued),
            "served": list(metrics.series_served),
            "failed": list(metrics.series_failed),
            "timed_out": list(metrics.series_timed_out),
            "restarts": list(metrics.series_restarts),
            "faults": [
                {
                    "at": r.fired,
                    "kind": r.fault.kind.value,
                    "target": r.fault.target,
                    "applied": r.applied,
                }
                for r in metrics.faults
                if r.fired is not None
            ],
        },
        "peak_memory_bytes": result.peak_memory,
        "orphaned_tasks": len(result.orphans),
        "orphans": list(result.orphans),
        "tree_failure": result.tree_failure,
        "down_at_end": [
            {"path": d.path, "state": d.state, "restart": d.restart, "decided": d.decided}
            for d in result.down
        ],
        "wall_seconds": result.wall_seconds,
        "exit_status": report.exit_status,
    }
