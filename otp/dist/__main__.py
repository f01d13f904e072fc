"""``python -m otp.dist server``: run a nats-server on loopback and print its URL."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence

import trio

from ._server import run_nats_server


async def _serve(args: tuple[str, ...]) -> None:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(functools.partial(run_nats_server, args=args))
        print(f"nats-server: {url}", flush=True)  # noqa: T201  (what the command is for)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m otp.dist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server", help="run nats-server on 127.0.0.1, a free port")
    server.add_argument("extra", nargs="*", help="more nats-server arguments (after --)")
    options = parser.parse_args(argv)
    try:
        trio.run(_serve, tuple(options.extra))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
