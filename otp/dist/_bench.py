"""``python -m otp.dist bench --nodes 3``: the fault-injection benchmark across node processes.

A real nats-server on loopback; ``nodes - 1`` host processes (``python -m otp.dist node
--role svc``); this process is the owner node: its supervisor runs ``services`` remote
children spread over the hosts, each holding a global name ``svc<i>``. Clients call them
by global name at a steady rate while a seeded plan injects, in turn, the three faults of a
cluster: a node killed (SIGKILL; a fresh host replaces it), a node paused (SIGSTOP for a few
seconds, then SIGCONT), and the broker restarted on its port. The report: calls, availability,
recovery time per fault kind (until every service answers again), restarts, and a final
check that each name has one owner that answers; as a table, JSON (``--json``) and a plot
(``--plot``, with matplotlib).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import random
import signal
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

import otp

from ._errors import DistError
from ._node import Node, current_node, open_node
from ._remote import remote_child_spec
from ._server import run_nats_server

__all__ = ["Echo", "main"]

KINDS = ("node_kill", "node_pause", "broker_restart")
READY_WAIT = 30.0


class Echo(otp.GenServer[Any, Any]):
    """The benchmark's service: answers ``["ok", node]``.

    Example::

        otp.dist.remote_child_spec("svc0", "otp.dist._bench:Echo", role="svc", name="svc0")
    """

    async def init(self) -> None:
        """Remember the node it runs on."""
        self.node = current_node().name

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:  # noqa: ANN401
        """Answer every request."""
        return ["ok", self.node]


@attrs.frozen
class Config:
    """One run's settings (see ``python -m otp.dist bench --help``)."""

    nodes: int = 3
    services: int = 4
    duration: float = 40.0
    rate: float = 100.0
    every: float = 8.0
    heartbeat: float = 0.5
    seed: int = 0


@attrs.define
class _Run:
    config: Config
    url: str = ""
    port: str = ""
    hosts: dict[str, trio.Process] = attrs.Factory(dict)
    spawned: int = 0
    calls: list[tuple[float, bool]] = attrs.Factory(list)
    faults: list[dict[str, Any]] = attrs.Factory(list)
    restarts: int = 0
    broker: trio.CancelScope | None = None
    started: float = 0.0
    nursery: trio.Nursery | None = None  # the run's own: brokers and hosts outlive the load


async def _host(run: _Run, nursery: trio.Nursery) -> None:
    run.spawned += 1
    name = f"h{run.spawned}"
    command = [sys.executable, "-m", "otp.dist", "node", "--name", name, "--role", "svc"]
    command += ["--server", run.url, "--heartbeat", str(run.config.heartbeat)]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    run.hosts[name] = process
    assert process.stdout is not None
    seen = b""
    with trio.fail_after(READY_WAIT):
        while b"ready" not in seen:
            chunk = await process.stdout.receive_some(1024)
            if not chunk:
                msg = f"host {name} exited before it was ready"
                raise DistError(msg)
            seen += chunk
    nursery.start_soon(_drain, process)


async def _drain(process: trio.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.receive_some(1024):
        pass


async def _broker(run: _Run, nursery: trio.Nursery) -> None:
    async def serve(task_status: trio.TaskStatus[str]) -> None:
        with trio.CancelScope() as scope:
            run.broker = scope
            args = ("-p", run.port) if run.port else ()
            await run_nats_server(args=args, task_status=task_status)

    run.url = await nursery.start(serve)
    run.port = run.url.rsplit(":", 1)[1]


def _placed(sup: otp.Supervisor) -> dict[str, str]:
    where = {}
    for info in sup.which_children():
        if info.child is not None and info.child.value is not None:
            where[str(info.id)] = str(info.child.value.node)
    return where


async def _all_answer(node: Node, services: int) -> bool:
    for index in range(services):
        try:
            await node.global_ref(f"svc{index}").call("ping", timeout=0.5)
        except (otp.OtpError, DistError):
            return False
    return True


async def _clients(run: _Run, node: Node, nursery: trio.Nursery) -> None:
    gap = 1.0 / run.config.rate
    index = 0
    while True:
        index += 1
        nursery.start_soon(_one_call, run, node, f"svc{index % run.config.services}")
        await trio.sleep(gap)


async def _one_call(run: _Run, node: Node, name: str) -> None:
    began = trio.current_time() - run.started
    try:
        await node.global_ref(name).call("ping", timeout=1.0)
        run.calls.append((began, True))
    except (otp.OtpError, DistError):
        run.calls.append((began, False))


async def _fault(run: _Run, node: Node, sup: otp.Supervisor, kind: str, rng: random.Random) -> None:
    assert run.nursery is not None
    nursery = run.nursery
    at = trio.current_time()
    record: dict[str, Any] = {"kind": kind, "at": round(at - run.started, 3)}
    busy = sorted(set(_placed(sup).values()) & set(run.hosts))
    victim = rng.choice(busy) if busy else None
    if kind == "broker_restart":
        assert run.broker is not None
        run.broker.cancel()
        await trio.sleep(0.5)
        await _broker(run, nursery)
    elif kind == "node_kill" and victim is not None:
        record["node"] = victim
        run.hosts.pop(victim).kill()
        await _host(run, nursery)  # a fresh host keeps the capacity
    elif kind == "node_pause" and victim is not None:
        pause = round(rng.uniform(1.0, 4.0), 2)
        record |= {"node": victim, "seconds": pause}
        run.hosts[victim].send_signal(signal.SIGSTOP)
        await trio.sleep(pause)
        run.hosts[victim].send_signal(signal.SIGCONT)
    with trio.move_on_after(30) as waited:
        await trio.sleep(1.0)  # let detection begin before probing
        while not await _all_answer(node, run.config.services):
            await trio.sleep(0.1)
    record["recovered_s"] = None if waited.cancelled_caught else round(trio.current_time() - at, 3)
    run.faults.append(record)


async def _run(config: Config) -> dict[str, Any]:
    run = _Run(config)
    rng = random.Random(config.seed)
    async with trio.open_nursery() as nursery:
        run.nursery = nursery
        await _broker(run, nursery)
        try:
            for _ in range(config.nodes - 1):
                await _host(run, nursery)
            result = await _measure(run, rng, nursery)
        finally:
            for process in run.hosts.values():
                process.send_signal(signal.SIGCONT)
                process.kill()
            nursery.cancel_scope.cancel()
    return result


async def _measure(run: _Run, rng: random.Random, nursery: trio.Nursery) -> dict[str, Any]:
    config = run.config

    def count(event: otp.SupervisorEvent) -> None:
        if isinstance(event, otp.ChildExited):
            run.restarts += 1

    specs = [
        remote_child_spec(
            f"svc{i}", "otp.dist._bench:Echo", role="svc", name=f"svc{i}", global_name=f"svc{i}"
        )
        for i in range(config.services)
    ]
    async with open_node(run.url, "bench", heartbeat_interval=config.heartbeat) as node:
        with trio.fail_after(READY_WAIT):
            while len([p for p in node.peers().values() if p.state == "up"]) < config.nodes - 1:  # noqa: ASYNC110
                await trio.sleep(0.05)
        sup = await nursery.start(
            functools.partial(otp.supervisor, specs, intensity=1000, period=1, hooks=[count])
        )
        run.started = trio.current_time()
        kinds = list(KINDS)
        rng.shuffle(kinds)
        async with trio.open_nursery() as load:
            load.start_soon(_clients, run, node, load)
            for index in range(int(config.duration // config.every)):
                await trio.sleep_until(run.started + (index + 0.5) * config.every)
                await _fault(run, node, sup, kinds[index % len(kinds)], rng)
            await trio.sleep_until(run.started + config.duration)
            load.cancel_scope.cancel()
        owners = await _owners(node, config.services)
        healthy = await _all_answer(node, config.services)
        await sup.stop()
    return _summary(run, owners, healthy=healthy)


async def _owners(node: Node, services: int) -> dict[str, str | None]:
    # A broker restarted a moment ago may still be bringing JetStream up: retry for a while.
    owners: dict[str, str | None] = {}
    with trio.move_on_after(15):
        while True:
            try:
                for index in range(services):
                    owner = await node.whereis_global(f"svc{index}")
                    owners[f"svc{index}"] = None if owner is None else owner.node
                if all(owners.values()):
                    break
            except DistError:
                pass
            await trio.sleep(0.5)
    return owners


def _summary(run: _Run, owners: dict[str, str | None], *, healthy: bool) -> dict[str, Any]:
    ok = sum(1 for _, good in run.calls if good)
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        times = [f["recovered_s"] for f in run.faults if f["kind"] == kind]
        done = [t for t in times if t is not None]
        kinds[kind] = {
            "faults": len(times),
            "unrecovered": len(times) - len(done),
            "median_recovery_s": statistics.median(done) if done else None,
            "max_recovery_s": max(done) if done else None,
        }
    return {
        "config": attrs.asdict(run.config),
        "calls": len(run.calls),
        "ok": ok,
        "availability": ok / len(run.calls) if run.calls else 0.0,
        "restarts": run.restarts,
        "faults": run.faults,
        "by_kind": kinds,
        "owners": owners,
        "healthy_at_end": healthy and all(owners.values()),
        "timeline": _timeline(run),
    }


def _timeline(run: _Run) -> list[tuple[int, float]]:
    seconds: dict[int, list[bool]] = {}
    for began, good in run.calls:
        seconds.setdefault(int(began), []).append(good)
    return [(s, sum(v) / len(v)) for s, v in sorted(seconds.items())]


def render(result: dict[str, Any]) -> str:
    """The plain-text table of a result."""
    config = result["config"]
    lines = [
        f"otp.dist cluster benchmark: {config['nodes']} nodes, {config['services']} services, "
        f"{config['duration']:g} s, {config['rate']:g} calls/s, heartbeats {config['heartbeat']:g} s",
        f"calls {result['calls']}, answered {result['ok']}, "
        f"availability {result['availability']:.2%}, restarts {result['restarts']}",
        f"{'fault':<16}{'count':>6}{'median recovery s':>20}{'max s':>8}{'unrecovered':>13}",
    ]
    for kind, row in result["by_kind"].items():
        median = "-" if row["median_recovery_s"] is None else f"{row['median_recovery_s']:.2f}"
        top = "-" if row["max_recovery_s"] is None else f"{row['max_recovery_s']:.2f}"
        lines.append(f"{kind:<16}{row['faults']:>6}{median:>20}{top:>8}{row['unrecovered']:>13}")
    verdict = "yes" if result["healthy_at_end"] else "NO"
    lines.append(f"every service answering, one owner each, at the end: {verdict}")
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib as mpl  # noqa: PLC0415  (an optional extra)

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(9, 3.5))
    seconds = [s for s, _ in result["timeline"]]
    axes.plot(seconds, [a * 100 for _, a in result["timeline"]], label="calls answered (%)")
    for fault in result["faults"]:
        axes.axvline(fault["at"], linestyle="--", alpha=0.5)
        axes.text(fault["at"], 5, fault["kind"], rotation=90, fontsize=7)
    axes.set_xlabel("seconds")
    axes.set_ylim(0, 105)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cluster benchmark with ``argv``; 0 if the cluster healed from every fault.

    ``python -m otp.dist bench`` and ``python -m otp.bench --nodes N`` run it.

    Example::

        status = otp.dist.cluster_bench(["--nodes", "3", "--duration", "30", "--json", "c.json"])
    """
    parser = argparse.ArgumentParser(prog="python -m otp.dist bench", description=__doc__)
    parser.add_argument("--nodes", type=int, default=3, help="node processes in all (>= 2)")
    parser.add_argument("--services", type=int, default=4)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second")
    parser.add_argument("--every", type=float, default=8.0, help="seconds between faults")
    parser.add_argument("--heartbeat", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--log", action="store_true", help="show otp's log (crash reports)")
    args = parser.parse_args(argv)
    if not args.log:
        logging.getLogger("otp").setLevel(logging.CRITICAL)  # the report says what happened
    if args.nodes < 2 or args.services < 1 or args.duration <= 0 or args.rate <= 0:
        parser.error("need --nodes >= 2, --services >= 1, and a positive --duration and --rate")
    config = Config(
        args.nodes, args.services, args.duration, args.rate, args.every, args.heartbeat, args.seed
    )
    result = trio.run(_run, config)
    sys.stdout.write(render(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    if args.plot is not None:
        _plot(result, args.plot)
    unrecovered = sum(row["unrecovered"] for row in result["by_kind"].values())
    return 0 if result["healthy_at_end"] and not unrecovered else 1
