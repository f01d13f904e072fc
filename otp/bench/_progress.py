"""A progress bar while the benchmark runs: rich's, on a terminal, and nothing otherwise.

No bar when the stream is not a terminal (a pipe, a file, a test's capture), on CI (``CI``
set to anything but ``""``, ``0`` or ``false``), with ``--quiet``, or without rich.

The bar is fed by the workload's first client as it issues calls, and drawn by rich's own
refresh thread: it adds no task and no timer to the Trio run, so the run is the same, call for
call, with or without it (the scheduler's random choices depend on how many wake-ups there are).
"""

from __future__ import annotations

import os
from typing import Protocol, TextIO, final

__all__ = ["NoProgress", "Progress", "make_progress", "wanted"]


class Progress(Protocol):
    """Where the run reports how far it got."""

    def update(self, elapsed: float) -> None:
        """The workload has run for ``elapsed`` seconds (of the run's clock)."""
        ...

    def close(self) -> None:
        """The run is over: take the bar away."""
        ...


@final
class NoProgress:
    """No bar."""

    def update(self, elapsed: float) -> None:
        """Ignore it."""

    def close(self) -> None:
        """Nothing to close."""


@final
class RichProgress:
    """rich's progress bar, on ``stream``, transient (it disappears when the run ends)."""

    def __init__(self, total: float, stream: TextIO, description: str) -> None:
        from rich.console import Console  # noqa: PLC0415  (rich is optional)
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar  # noqa: PLC0415

        self._bar = Bar(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:5.1f}/{task.total:.1f} s"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task = self._bar.add_task(description, total=total)
        self._step = total / 200  # redraw-worthy progress; fewer updates, same bar
        self._shown = -self._step
        self._bar.start()

    def update(self, elapsed: float) -> None:
        """Move the bar, if it moved by a visible step."""
        if elapsed - self._shown >= self._step:
            self._shown = elapsed
            self._bar.update(self._task, completed=elapsed)

    def close(self) -> None:
        """Stop the bar's refresh thread and clear it."""
        self._bar.stop()


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def wanted(stream: TextIO, *, quiet: bool) -> bool:
    """Whether a bar belongs on ``stream``: a terminal, not CI, not quiet."""
    isatty = getattr(stream, "isatty", None)
    return not quiet and not _on_ci() and callable(isatty) and bool(isatty())


def make_progress(total: float, stream: TextIO, *, quiet: bool, description: str) -> Progress:
    """A rich bar on ``stream`` if one is :func:`wanted` and rich is installed, else none.

    Example::

        progress = make_progress(20.0, sys.stderr, quiet=False, description="running")
        progress.update(5.0)
        progress.close()
    """
    if not wanted(stream, quiet=quiet):
        return NoProgress()
    try:
        return RichProgress(total, stream, description)
    except ImportError:
        return NoProgress()
