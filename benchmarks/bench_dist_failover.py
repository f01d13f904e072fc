"""Failover: from SIGKILL of a node to its child running again on another node.

A real ``nats-server`` on loopback; this process is node ``a``, whose supervisor owns one
remote child (``examples.cluster:Cache``, holding the global name ``cache``, placed on any
node of role ``cache``); two host processes (``python -m otp.dist node``) have that role.
Each kill SIGKILLs the node the child runs on, times until the supervisor has placed it on
the other node *and* a call by its global name is answered there, then starts a fresh
process in place of the dead one (off the clock). The figure is that time, median and p99
over all kills; it is made of the detection (phi over heartbeats), the restart and the
start round trip, so it scales with ``--heartbeat``.

Baseline, the same work in one process: a local child of a local supervisor crashes, and
the time is until the restarted child answers a call. The ratio says how much the network
and the failure detector cost (it is small by nature: detection is seconds, a local restart
microseconds).

Usage::

    python benchmarks/bench_dist_failover.py [--kills 20] [--heartbeat 1.0] [--quick] [--json FILE]
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio
import trio.lowlevel
from _common import (
    Figures,
    fmt,
    format_table,
    make_parser,
    median,
    percentile,
    positive_int,
    print_environment,
    silence_otp,
    write_json,
)

import otp
import otp.dist

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.node_processes import start_node, stop_node  # noqa: E402  (bounded node processes)

FULL_KILLS = 20
QUICK_KILLS = 3
LIMIT = 30.0  # no single failover may take longer


def spec() -> otp.ChildSpec:
    return otp.dist.remote_child_spec(
        "cache", "examples.cluster:Cache", role="cache", name="cache", global_name="cache"
    )


def placed(sup: otp.Supervisor) -> str | None:
    child = sup.which_children()[0].child
    return None if child is None or child.value is None else str(child.value.node)


@contextlib.contextmanager
def hosts(url: str, heartbeat: float) -> Iterator[dict[str, subprocess.Popen[str]]]:
    processes = {
        name: start_node(url, name, "--role", "cache", heartbeat=heartbeat) for name in "bc"
    }
    try:
        yield processes
    finally:
        for process in processes.values():
            stop_node(process)


async def failovers(kills: int, heartbeat: float) -> list[float]:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(otp.dist.run_nats_server)
        times = await failovers_through(url, kills, heartbeat)
        nursery.cancel_scope.cancel()
    return times


async def failovers_through(url: str, kills: int, heartbeat: float) -> list[float]:
    times: list[float] = []
    with hosts(url, heartbeat) as processes:
        async with otp.dist.open_node(url, "a", heartbeat_interval=heartbeat) as a:
            while {"b", "c"} - {n for n, p in a.peers().items() if p.state == "up"}:  # noqa: ASYNC110
                await trio.sleep(0.05)
            async with otp.open_supervisor([spec()], intensity=kills + 5, period=60) as sup:
                cache = a.global_ref("cache")
                for _ in range(kills):
                    with trio.fail_after(LIMIT):
                        victim = placed(sup)
                        assert victim is not None
                        survivor = "c" if victim == "b" else "b"
                        killed = trio.current_time()
                        processes[victim].kill()
                        while True:
                            if placed(sup) == survivor:
                                with contextlib.suppress(otp.NoProc, otp.dist.DistError):
                                    if await cache.call("whoami", timeout=1) == survivor:
                                        break
                            await trio.sleep(0.005)
                        times.append(trio.current_time() - killed)
                    stop_node(processes[victim])
                    # A fresh process under the dead one's name: a spare for the next kill.
                    processes[victim] = await trio.to_thread.run_sync(
                        lambda v=victim: start_node(url, v, "--role", "cache", heartbeat=heartbeat)
                    )
                    with trio.fail_after(LIMIT):
                        while a.peers().get(victim) is None or a.peers()[victim].state != "up":  # noqa: ASYNC110
                            await trio.sleep(0.05)
    return times


class Crashy(otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "crash":
            raise RuntimeError("crash")
        return "here"


async def local_restarts(kills: int) -> list[float]:
    times: list[float] = []
    async with otp.open_supervisor([Crashy.child_spec(name="crashy")], intensity=kills + 5):
        ref = otp.named("crashy")
        for _ in range(kills):
            began = trio.current_time()
            with contextlib.suppress(otp.CallError):
                await ref.call("crash")
            while True:
                with contextlib.suppress(otp.NoProc, otp.CallError):
                    if await ref.call("ping") == "here":
                        break
                await trio.lowlevel.checkpoint()
            times.append(trio.current_time() - began)
    return times


def figures(remote: list[float], local: list[float]) -> Figures:
    return {
        "otp.failover.median_s": median(remote),
        "otp.failover.p99_s": percentile(remote, 0.99),
        "otp.failover.max_s": max(remote),
        "raw.local_restart.median_s": median(local),
        "raw.local_restart.p99_s": percentile(local, 0.99),
        "otp/raw": median(remote) / median(local),
    }


def report(result: Figures, kills: int, heartbeat: float) -> str:
    rows = [
        [
            "otp.dist: SIGKILL -> running on another node",
            fmt(result["otp.failover.median_s"] * 1000, 0),
            fmt(result["otp.failover.p99_s"] * 1000, 0),
        ],
        [
            "raw Trio baseline: local crash -> restarted",
            fmt(result["raw.local_restart.median_s"] * 1000, 3),
            fmt(result["raw.local_restart.p99_s"] * 1000, 3),
        ],
    ]
    return "\n".join(
        [
            f"Failover: {kills} kills, heartbeats every {heartbeat:g} s",
            format_table(["variant", "median ms", "p99 ms"], rows),
            f"Ratio (failover / local restart): {result['otp/raw']:,.0f}x: detection dominates.",
            (
                "Issue 11 bound: within 5 s at 1 s heartbeats -> "
                f"max {result['otp.failover.max_s']:.2f} s"
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--kills", type=positive_int, default=None)
    parser.add_argument("--heartbeat", type=float, default=1.0)
    args = parser.parse_args(argv)
    kills = args.kills or (QUICK_KILLS if args.quick else FULL_KILLS)
    silence_otp()
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    remote = trio.run(failovers, kills, args.heartbeat)
    local = trio.run(local_restarts, kills)
    result = figures(remote, local)
    print_environment()
    print(report(result, kills, args.heartbeat))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="dist_failover",
            config={"kills": kills, "heartbeat": args.heartbeat, "quick": args.quick},
            runs=[{f"kill{i}": t for i, t in enumerate(remote)}],
            medians=result,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
