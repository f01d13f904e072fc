"""The command line: ``otp-bench`` / ``python -m otp.bench``.

Exit status: 0 for a clean run; 1 if a task of the library outlived the tree, if the tree
failed during the run (its root supervisor gave up, raised, or stopped by itself before the
end) or failed to start, or if a result file could not be written; 2 for bad arguments or
input files (with a message saying what is wrong), before anything runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from otp.testing import FaultInjector, FaultPlan

from ._default import default_tree
from ._errors import UsageError
from ._layout import BenchTree, Layout, layout_of, load_tree_file
from ._plan import DEFAULT_RATES, load_faults, parse_rates, random_plan
from ._plot import check_available, write_plot
from ._progress import make_progress
from ._report import Report, problems, render_plain, render_rich, to_json, use_rich
from ._runner import RunConfig, TreeStartError, run
from ._workload import targets_of

__all__ = ["build_parser", "main"]

PROG = "otp-bench"


def _number(minimum: float, *, inclusive: bool) -> Callable[[str], float]:
    relation = ">=" if inclusive else ">"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            msg = f"must be a finite number {relation} {minimum:g} (got {text!r})"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def _integer(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            msg = f"must be an integer >= {minimum} (got {text!r})"
            raise argparse.ArgumentTypeError(msg) from None
        if value < minimum:
            msg = f"must be an integer >= {minimum} (got {text!r})"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        msg = f"must be an integer (got {text!r})"
        raise argparse.ArgumentTypeError(msg) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``otp-bench``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Run a supervision tree under a steady client load while injecting faults, and "
            "report availability, restart latency, recovery time per fault kind, restarts "
            "and escalations per supervisor, peak memory and orphaned tasks."
        ),
        epilog=(
            "Exit status: 0 for a clean run; 1 if tasks were orphaned or the tree failed; "
            "2 for bad arguments. Extras for tables, the progress bar and plots: "
            "pip install 'otp[bench]'."
        ),
    )
    parser.add_argument(
        "--tree",
        type=Path,
        metavar="FILE",
        help="a tree file (.toml or .json, the format of otp.load_tree) instead of the "
        "default tree; the workload calls its named servers",
    )
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        default="default",
        help="'default' (seeded, default rates), 'none', inline rates in faults per second "
        "('crash=0.2,hang=0.05'), or a .json/.toml file listing faults "
        "({at, kind, target, delay?, duration?})",
    )
    parser.add_argument(
        "--duration",
        type=_number(0, inclusive=False),
        default=20.0,
        metavar="SECONDS",
        help="how long the workload runs (default 20)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="N",
        help="seeds the fault plan, the clients and, on virtual time, the scheduler (default 0)",
    )
    parser.add_argument(
        "--rate",
        type=_number(0, inclusive=False),
        default=200.0,
        metavar="CALLS",
        help="calls per second, all clients together (default 200)",
    )
    parser.add_argument(
        "--timeout",
        type=_number(0, inclusive=False),
        default=1.0,
        metavar="SECONDS",
        help="the deadline of each call (default 1)",
    )
    parser.add_argument(
        "--clients",
        type=_integer(1),
        default=8,
        metavar="N",
        help="client tasks sharing the rate (default 8)",
    )
    parser.add_argument(
        "--sessions",
        type=_integer(0),
        default=4,
        metavar="N",
        help="sessions the clients open in each dynamic supervisor of servers (default 4)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.png",
        help="plot availability and restarts over time (needs matplotlib)",
    )
    parser.add_argument(
        "--virtual-time",
        action="store_true",
        help="run on trio.testing.MockClock: fast, and the same counts for the same seed",
    )
    parser.add_argument("--quiet", action="store_true", help="print no table and no progress bar")
    parser.add_argument(
        "--nodes",
        type=_integer(1),
        default=1,
        metavar="N",
        help="run across N node processes over a real NATS server, with node kills, pauses "
        "and a broker restart (otp.dist's cluster benchmark; needs otp[nats]); uses "
        "--duration, --rate, --seed, --json and --plot",
    )
    return parser


@attrs.frozen
class Prepared:
    """A run ready to go, and how its faults were chosen."""

    config: RunConfig
    faults: str


def _plan(args: argparse.Namespace, layout: Layout) -> tuple[FaultPlan, str]:
    spec: str = args.faults.strip()
    if spec == "default":
        plan = random_plan(
            layout, DEFAULT_RATES, seed=args.seed, duration=args.duration, strict=False
        )
        return plan, "default rates"
    if spec == "none":
        return FaultPlan(()), "no faults"
    path = Path(spec)
    if "=" in spec and not path.exists():
        rates = parse_rates(spec)
        plan = random_plan(layout, rates, seed=args.seed, duration=args.duration, strict=True)
        return plan, ", ".join(f"{kind.value}={rate:g}/s" for kind, rate in rates.items())
    if path.suffix.lower() in (".json", ".toml"):
        return load_faults(path), f"from {path.name}"  # says so if it cannot be read
    if not path.exists():
        msg = (
            f"--faults: {spec!r} is not a file, 'default', 'none', or rates like "
            "'crash=0.2,hang=0.05'"
        )
        raise UsageError(msg)
    return load_faults(path), f"from {path.name}"


def prepare(args: argparse.Namespace) -> Prepared:
    """Check everything that can be checked before the run, and build it.

    Raises:
        UsageError: Saying what is wrong with the arguments or the files they name.
    """
    if args.plot is not None:
        check_available(args.plot)
    # The default tree's one random choice (its backoff jitter) is drawn from the seed too.
    jitter = random.Random(f"{args.seed}:jitter").random
    tree: BenchTree = (
        default_tree(jitter=jitter) if args.tree is None else load_tree_file(args.tree)
    )
    layout = layout_of(tree)
    targets = targets_of(layout, sessions=args.sessions)
    if not targets:
        msg = (
            f"{tree.label} has no server the workload can call: give a GenServer child a "
            "name, or give a dynamic supervisor a GenServer template"
        )
        raise UsageError(msg)
    plan, faults = _plan(args, layout)
    try:
        # A dry run of the instrumentation: it checks every target and kind against the tree.
        FaultInjector(plan).instrument(tree.children)
    except ValueError as exc:  # names the target, and the paths there are
        raise UsageError(f"--faults: {exc}") from None
    config = RunConfig(
        tree=tree,
        layout=layout,
        plan=plan,
        targets=tuple(targets),
        duration=args.duration,
        rate=args.rate,
        timeout=args.timeout,
        clients=args.clients,
        seed=args.seed,
        virtual_time=args.virtual_time,
        jitter=jitter,
    )
    return Prepared(config, faults)


def _write_outputs(report: Report, args: argparse.Namespace) -> bool:
    ok = True
    if args.json is not None:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(to_json(report), indent=2, allow_nan=False)
            args.json.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"{PROG}: error: cannot write {args.json}: {exc}\n")
            ok = False
    if args.plot is not None:
        try:
            write_plot(report, args.plot)
        except OSError as exc:
            sys.stderr.write(f"{PROG}: error: cannot write {args.plot}: {exc}\n")
            ok = False
    return ok


def _across_nodes(args: argparse.Namespace) -> int:
    # The cluster benchmark lives in the distribution layer; the kernel only hands over.
    try:
        dist = importlib.import_module("otp.dist")
    except ImportError as exc:
        sys.stderr.write(f"{PROG}: error: --nodes needs otp.dist ({exc})\n")
        return 2
    argv = ["--nodes", str(args.nodes), "--duration", str(args.duration)]
    argv += ["--rate", str(args.rate), "--seed", str(args.seed)]
    argv += ["--json", str(args.json)] if args.json is not None else []
    argv += ["--plot", str(args.plot)] if args.plot is not None else []
    status: int = dist.cluster_bench(argv)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``otp-bench`` with ``argv`` (default: the command line); return the exit status.

    Example::

        status = otp.bench.main(["--virtual-time", "--duration", "5", "--json", "run.json"])
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's errors (status 2) and --help (status 0)
        return exc.code if isinstance(exc.code, int) else 2
    if args.nodes > 1:
        return _across_nodes(args)
    try:
        prepared = prepare(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    config = prepared.config
    clock = "virtual" if config.virtual_time else "real"
    progress = make_progress(
        config.duration,
        sys.stderr,
        quiet=args.quiet,
        description=f"{config.tree.label}, {clock} time",
    )
    try:
        result = run(config, progress)
    except TreeStartError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130  # the shell's convention for SIGINT
    finally:
        progress.close()
    report = Report(config, result, prepared.faults)
    if not args.quiet:
        if use_rich(sys.stdout):
            render_rich(report, sys.stdout)
        else:
            sys.stdout.write(render_plain(report))
    for line in problems(report):
        sys.stderr.write(f"{PROG}: error: {line}\n")
    if not _write_outputs(report, args):
        return 1
    return report.exit_status
