"""Persistence: persisted commands/s against raw sqlite3 inserts, and recovery time.

Throughput. Every variant writes the same rows (stream, sequence, type, version, JSON data)
to an SQLite file in WAL mode with ``synchronous=NORMAL``, one transaction per command:

* ``raw sqlite3, one thread call per row`` (the baseline): one Trio task; for each row,
  ``await trio.to_thread.run_sync(insert)``, where ``insert`` runs ``BEGIN IMMEDIATE``, one
  ``INSERT`` and ``COMMIT`` on a connection of its own.
* ``otp, 1 client``: one client task calls an ``EventSourced`` server (under a supervisor)
  with one command per call, each persisting one event before the reply.
* ``otp, N clients``: N client tasks, each with a server and stream of its own, calling at
  the same time; the store group-commits the appends that queue while a commit runs.

Reported: commands/s (rows/s for raw) and the ratio to the baseline, medians of the runs.
Target (from the issue): otp >= 0.7x the raw inserts.

Recovery. A stream of N events (``--recovery-sizes``, default 100000; add 1000000 for the
issue's second size), then the time an ``EventSourced`` server takes to start on it: without
a snapshot (every event read and folded) and with a snapshot at the last event. The
baseline is a raw read: ``SELECT`` every row of the stream in a thread and fold
``json.loads`` of each in the Trio thread.

Usage::

    python benchmarks/bench_persist.py [--runs 3] [--quick] [--json FILE] [--commands N]
                                       [--clients N] [--recovery-sizes 100000,1000000]
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
    silence_otp,
    write_json,
)

import otp
import otp.persist

FULL_COMMANDS = 5_000
QUICK_COMMANDS = 500
TARGET_RATIO = 0.7


class Counter(otp.persist.EventSourced):
    """One event per command; the state is the sum of the events."""

    def initial_state(self) -> int:
        return 0

    async def handle_command(self, state: int, command: Any) -> Any:
        if command == "get":
            return state
        return otp.persist.Persist(command, reply=None)

    def apply(self, state: int, event: Any) -> int:
        return state + event


# --- throughput -------------------------------------------------------------------------------


async def raw_inserts(path: Path, rows: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL,"
        " sequence INTEGER NOT NULL, type TEXT NOT NULL, version INTEGER NOT NULL,"
        " data TEXT NOT NULL, UNIQUE (stream, sequence))"
    )

    def insert(sequence: int) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO events (stream, sequence, type, version, data) VALUES (?, ?, ?, ?, ?)",
            ("raw", sequence, "json", 1, "1"),
        )
        connection.execute("COMMIT")

    began = time.perf_counter()
    for sequence in range(1, rows + 1):
        await trio.to_thread.run_sync(insert, sequence)
    elapsed = time.perf_counter() - began
    connection.close()
    return rows / elapsed


async def otp_commands(path: Path, commands: int, clients: int) -> float:
    async with otp.persist.SqliteStore.open(path) as store:
        streams = [f"counter-{n}" for n in range(clients)]
        children = [Counter.child_spec(store, stream, name=stream) for stream in streams]
        async with otp.open_supervisor(children):
            refs = [otp.named(stream) for stream in streams]
            each = commands // clients

            async def client(ref: otp.ServerRef[Any, Any]) -> None:
                for _ in range(each):
                    await ref.call(1)

            began = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for ref in refs:
                    nursery.start_soon(client, ref)
            elapsed = time.perf_counter() - began
            for ref in refs:
                assert await ref.call("get") == each
        return each * clients / elapsed


# --- recovery ---------------------------------------------------------------------------------


async def build(path: Path, size: int) -> None:
    async with otp.persist.SqliteStore.open(path) as store:
        data = otp.persist.EventData("json", 1, "1")
        chunk = 10_000
        written = 0
        while written < size:
            count = min(chunk, size - written)
            written = await store.append("big", [data] * count, expected=written)


async def recover(path: Path, *, snapshot: bool) -> float:
    async with otp.persist.SqliteStore.open(path) as store:
        if not snapshot:
            await store.delete_snapshots("big", keep=0)  # an earlier run's would be used
        elif await store.load_snapshot("big") is None:
            async with trio.open_nursery() as nursery:
                ref = await nursery.start(Counter.start, store, "big")
                await ref.call(otp.persist.SaveSnapshot, timeout=None)
                nursery.cancel_scope.cancel()
        async with trio.open_nursery() as nursery:
            began = time.perf_counter()
            ref = await nursery.start(Counter.start, store, "big")
            elapsed = time.perf_counter() - began
            await ref.call("get", timeout=None)
            nursery.cancel_scope.cancel()
    return elapsed


async def raw_recover(path: Path) -> float:
    connection = sqlite3.connect(path, check_same_thread=False)
    began = time.perf_counter()
    rows = await trio.to_thread.run_sync(
        lambda: connection.execute(
            "SELECT data FROM otp_events WHERE stream = 'big' ORDER BY sequence"
        ).fetchall()
    )
    state = 0
    for (data,) in rows:
        state += json.loads(data)
    elapsed = time.perf_counter() - began
    connection.close()
    return elapsed


# --- runs -------------------------------------------------------------------------------------


def one_run(index: int, commands: int, clients: int, sizes: list[int], directory: Path) -> Figures:
    run_dir = directory / f"run{index}"
    run_dir.mkdir()
    figures: Figures = {}
    # Alternate the order so that neither side always runs on a warmer disk cache.
    order = ["raw", "otp1", "otpN"] if index % 2 == 0 else ["otpN", "otp1", "raw"]
    for variant in order:
        path = run_dir / f"{variant}.db"
        if variant == "raw":
            figures["raw.per_s"] = trio.run(raw_inserts, path, commands)
        elif variant == "otp1":
            figures["otp1.per_s"] = trio.run(otp_commands, path, commands, 1)
        else:
            figures["otpN.per_s"] = trio.run(otp_commands, path, commands, clients)
    for variant in ("otp1", "otpN"):
        figures[f"{variant}/raw"] = ratio(figures[f"{variant}.per_s"], figures["raw.per_s"])
    for size in sizes:
        path = directory / f"recovery-{size}.db"
        if not path.exists():
            trio.run(build, path, size)
        figures[f"recover{size}.raw_s"] = trio.run(raw_recover, path)
        figures[f"recover{size}.events_s"] = trio.run(lambda p=path: recover(p, snapshot=False))
        figures[f"recover{size}.snapshot_s"] = trio.run(lambda p=path: recover(p, snapshot=True))
    return figures


def report(medians: Figures, commands: int, clients: int, sizes: list[int], runs: int) -> str:
    rows = [
        ["raw sqlite3, one thread call per row", fmt(medians["raw.per_s"], 0), "1.00x"],
        ["otp, 1 client", fmt(medians["otp1.per_s"], 0), fmt_ratio(medians["otp1/raw"])],
        [
            f"otp, {clients} clients (group commit)",
            fmt(medians["otpN.per_s"], 0),
            fmt_ratio(medians["otpN/raw"]),
        ],
    ]
    throughput = format_table([f"variant (median of {runs} runs)", "per s", "vs raw"], rows)
    recovery_rows = [
        [
            f"{size:,} events",
            fmt(medians[f"recover{size}.raw_s"], 3),
            fmt(medians[f"recover{size}.events_s"], 3),
            fmt(medians[f"recover{size}.snapshot_s"], 4),
            fmt_ratio(ratio(medians[f"recover{size}.events_s"], medians[f"recover{size}.raw_s"])),
        ]
        for size in sizes
    ]
    recovery = format_table(
        ["stream", "raw read+fold s", "otp replay s", "otp from snapshot s", "replay vs raw"],
        recovery_rows,
    )
    verdicts = []
    for variant in ("otp1", "otpN"):
        value = medians[f"{variant}/raw"]
        verdicts.append(f"{variant} {value:.3f}x ({'met' if value >= TARGET_RATIO else 'MISSED'})")
    return "\n".join(
        [
            (
                f"Persisted commands: {commands:,} per variant, one event each, WAL, "
                "synchronous=NORMAL"
            ),
            throughput,
            "",
            "Recovery: time for a server to start on one stream",
            recovery,
            f"Target: otp >= {TARGET_RATIO}x raw inserts -> " + "; ".join(verdicts),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--commands", type=positive_int, default=None)
    parser.add_argument("--clients", type=positive_int, default=8)
    parser.add_argument(
        "--recovery-sizes",
        default=None,
        help="comma-separated stream sizes for recovery (default 100000; quick: 10000)",
    )
    args = parser.parse_args(argv)
    silence_otp()
    commands = args.commands or (QUICK_COMMANDS if args.quick else FULL_COMMANDS)
    sizes_text = args.recovery_sizes or ("10000" if args.quick else "100000")
    sizes = [int(size) for size in sizes_text.split(",") if size]
    print_environment()
    with tempfile.TemporaryDirectory() as directory, gc_policy(disabled=args.no_gc):
        runs = run_repeatedly(
            args.runs, lambda index: one_run(index, commands, args.clients, sizes, Path(directory))
        )
    medians = median_of_runs(runs)
    print(report(medians, commands, args.clients, sizes, args.runs))
    if args.json is not None:
        config = {"commands": commands, "clients": args.clients, "recovery_sizes": sizes_text}
        write_json(args.json, benchmark="bench_persist", config=config, runs=runs, medians=medians)
    return 0


if __name__ == "__main__":
    sys.exit(main())
