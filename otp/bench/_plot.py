"""The plot of a run: availability and restarts per second, with a mark at each fault.

matplotlib is optional (``pip install 'otp[bench]'``) and drawn with the Agg backend, which
needs no display: the plot is written to a file, on a server or in CI as on a laptop.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from otp.testing import FaultKind

from ._errors import UsageError
from ._report import Report

__all__ = ["check_available", "write_plot"]

INSTALL_HINT = "pip install 'otp[bench]'"

# One colour per kind, fixed, so that plots of different runs compare at a glance.
_COLOURS = {
    FaultKind.CRASH: "tab:red",
    FaultKind.EXIT: "tab:olive",
    FaultKind.HANG: "tab:purple",
    FaultKind.SLOW: "tab:orange",
    FaultKind.FAIL_START: "tab:brown",
    FaultKind.FAIL_TERMINATE: "tab:pink",
    FaultKind.CANCEL_RESTART: "tab:cyan",
}


def check_available(path: Path) -> None:
    """Fail before the run, not after it, if the plot cannot be written.

    Raises:
        UsageError: matplotlib is not installed, or ``path`` is not a ``.png`` file.
    """
    if path.suffix.lower() != ".png":
        msg = f"--plot: the plot is a PNG image; name it FILE.png (got {str(path)!r})"
        raise UsageError(msg)
    if importlib.util.find_spec("matplotlib") is None:
        msg = f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}"
        raise UsageError(msg)


def write_plot(report: Report, path: Path) -> None:
    """Draw availability and restarts over time, with the faults marked, into ``path``.

    Example::

        write_plot(report, Path("run.png"))
    """
    import matplotlib as mpl  # noqa: PLC0415  (optional)

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415

    metrics = report.result.metrics
    availability = [
        100.0 * served / issued if issued else math.nan
        for served, issued in zip(metrics.series_served, metrics.series_issued, strict=True)
    ]
    figure, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=(10, 5.5), height_ratios=(3, 2), layout="constrained"
    )
    # Each value covers one second: a step from its start to the next one's (the last value
    # is repeated so that its step reaches the end of the run).
    edges = list(range(metrics.seconds + 1))
    top.step(edges, [*availability, availability[-1]], where="post", color="tab:green")
    observed = [value for value in availability if not math.isnan(value)]
    # Zoom in on the range the run covered, in steps of 10%: a dip to 95% should show.
    lowest = min(observed, default=100.0)
    top.set_ylim(max(0.0, math.floor((lowest - 5) / 10) * 10), 101)
    top.set_ylabel("calls served (%)")
    top.grid(visible=True, alpha=0.3)
    bottom.bar(edges[:-1], metrics.series_restarts, width=1.0, align="edge", color="tab:blue")
    bottom.set_ylabel("restarts")
    bottom.set_xlabel("time (s)")
    bottom.set_xlim(0, metrics.seconds)
    bottom.yaxis.get_major_locator().set_params(integer=True)
    bottom.grid(visible=True, alpha=0.3)
    marked: set[FaultKind] = set()
    for result in metrics.faults:
        # A fault is marked where it hit: when injected, or for a latent kind, when it took
        # effect; a dormant one is not marked.
        if result.effective is None:
            continue
        kind = result.fault.kind
        for axis in (top, bottom):
            axis.axvline(result.effective, color=_COLOURS[kind], linestyle="--", linewidth=1)
        marked.add(kind)
    handles = [Line2D([], [], color="tab:green", label="availability")]
    handles += [
        Line2D([], [], color=_COLOURS[kind], linestyle="--", label=kind.value)
        for kind in FaultKind
        if kind in marked
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize="small")
    clock = "virtual" if report.config.virtual_time else "real"
    top.set_title(
        f"otp-bench: {report.config.tree.label}, seed {report.config.seed}, {clock} time; "
        "dashed lines: faults",
        loc="left",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
