"""Run every benchmark, one after the other, and print all their tables.

Each benchmark runs in its own interpreter, so none inherits another's heap, and they never
run at the same time (on a small machine they would measure each other).

Usage::

    python benchmarks/run_all.py [--runs 3] [--quick] [--no-gc] [--json-dir DIR]

With ``--json-dir``, each benchmark writes ``DIR/<name>.json`` (``benchmarks/results/`` is
ignored by git, a good place for them).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import make_parser

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "bench_restart",
    "bench_start_stop",
    "bench_breaker",
    "bench_call",
    "bench_cast",
    "bench_server_memory",
    "bench_liveness",
    "bench_persist",
    "bench_crash_storm",
    "bench_events",
    "bench_metrics",
    "bench_tasks",
    "bench_routing",
    "bench_streams",
    "bench_middleware",
    "bench_pool",
    "bench_tools",
    "bench_dist",
    "bench_dist_failover",
)


def main(argv: list[str] | None = None) -> int:
    """Run each benchmark with the shared options; return non-zero if any failed."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument(
        "--json-dir",
        type=Path,
        metavar="DIR",
        help="write each benchmark's figures to DIR/<benchmark>.json",
    )
    args = parser.parse_args(argv)
    if args.json is not None:
        parser.error("use --json-dir: each benchmark writes its own file")
    shared = ["--runs", str(args.runs)]
    if args.quick:
        shared.append("--quick")
    if args.no_gc:
        shared.append("--no-gc")
    failed: list[str] = []
    for name in BENCHMARKS:
        command = [sys.executable, str(HERE / f"{name}.py"), *shared]
        if args.json_dir is not None:
            command += ["--json", str(args.json_dir / f"{name}.json")]
        print(f"\n== {name} ==", flush=True)
        began = time.perf_counter()
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
        print(f"({name}: {time.perf_counter() - began:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
