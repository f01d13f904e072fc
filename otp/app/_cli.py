"""``python -m otp run TARGET``: run a tree from a module attribute or a tree file.

Exit status: the :class:`ExitCode` of the run; 2 (``USAGE``) for bad arguments or a target
that cannot be loaded, before anything runs.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import otp

from ._codes import ExitCode
from ._errors import AppError
from ._records import AppEvent, AppStartFailed
from ._runner import run

__all__ = ["main"]

PROG = "python -m otp"


class _UsageError(Exception):
    pass


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or value <= 0:
        msg = f"must be a number of seconds > 0 (got {text!r})"
        raise argparse.ArgumentTypeError(msg)
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m otp``."""
    parser = argparse.ArgumentParser(prog=PROG, description="Run otp supervision trees.")
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser(
        "run",
        help="run a tree as an application until SIGINT or SIGTERM",
        description=(
            "Start the tree, print one line per application event on standard output "
            "(logs go to standard error), and on SIGINT/SIGTERM stop it in order within the "
            "shutdown timeout; a second signal forces the rest down. SIGHUP is reported."
        ),
        epilog=(
            "Exit status: 0 clean, 1 the tree gave up, 2 bad arguments or target, 3 a child "
            "failed to start, 70 the shutdown was forced, 130 after SIGINT, 143 after SIGTERM."
        ),
    )
    runner.add_argument(
        "target",
        help="'package.module:attribute' (a list of ChildSpec, an otp.Tree, a supervisor's "
        "ChildSpec, or a function returning one) or a .toml/.json tree file",
    )
    runner.add_argument("--name", help="the application's name (default: the tree's, or 'app')")
    runner.add_argument(
        "--shutdown-timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="seconds from the first signal until the rest is forced down (default 30)",
    )
    runner.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the level of the logs on standard error (default info)",
    )
    return parser


def _resolve(target: str) -> object:
    path = Path(target)
    if path.suffix.lower() in (".toml", ".json") or path.is_file():
        try:
            return otp.load_tree(path)
        except (otp.TreeError, OSError) as exc:
            raise _UsageError(str(exc)) from None
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        msg = f"{target!r} is neither 'module:attribute' nor a .toml/.json tree file"
        raise _UsageError(msg)
    try:
        value: object = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import {module_name!r}: {exc}"
        raise _UsageError(msg) from None
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            msg = f"{module_name!r} has no attribute {attribute!r}"
            raise _UsageError(msg) from None
    if isinstance(value, otp.Tree | otp.ChildSpec | list | tuple):
        return value
    if inspect.iscoroutinefunction(value):
        msg = f"{target!r} is an async function; give the tree, or a function returning it"
        raise _UsageError(msg)
    if callable(value):
        try:
            return value()
        except Exception as exc:  # noqa: BLE001  (a usage error, shown in one line)
            msg = f"calling {target!r} failed: {type(exc).__name__}: {exc}"
            raise _UsageError(msg) from None
    return value  # run() names what is wrong with it


class _Printer:
    """Prints each application event on stdout; keeps a start failure for the last line."""

    def __init__(self) -> None:
        self.failure: AppStartFailed | None = None

    def __call__(self, event: AppEvent) -> None:
        if isinstance(event, AppStartFailed):
            self.failure = event
        sys.stdout.write(f"{event}\n")
        sys.stdout.flush()


def _not_printed(record: logging.LogRecord) -> bool:
    # The application's own INFO lines are already on standard output.
    return not (record.name == "otp.app" and record.levelno < logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m otp run TARGET [--name] [--shutdown-timeout]``.

    Example::

        $ python -m otp run shop.tree:tree --shutdown-timeout 10
        app 'shop': started (3 children under 'shop') in 0.01 s
    """
    args = build_parser().parse_args(argv)
    try:
        root = _resolve(args.target)
    except _UsageError as exc:
        sys.stderr.write(f"{PROG} run: error: {exc}\n")
        return ExitCode.USAGE
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_not_printed)
    top = logging.getLogger()
    saved = top.level
    top.addHandler(handler)
    top.setLevel(args.log_level.upper())
    printer = _Printer()
    try:
        code = run(
            root,  # type: ignore[arg-type]  # run() checks it and names the problem
            name=args.name,
            shutdown_timeout=args.shutdown_timeout,
            on_event=printer,
        )
    except (AppError, otp.ChildSpecError) as exc:
        sys.stderr.write(f"{PROG} run: error: {exc}\n")
        return ExitCode.USAGE
    finally:
        top.removeHandler(handler)
        top.setLevel(saved)
    if printer.failure is not None:
        # One clear line, last, after the log with its traceback.
        sys.stderr.write(f"{PROG} run: error: {printer.failure}\n")
    return code
