"""An echo responder for bench_dist.py, in its own process: ``python _nats_echo.py URL``."""

from __future__ import annotations

import sys

import trio

import otp.dist


async def main(url: str) -> None:
    async with otp.dist.open_connection(url) as connection:
        requests = connection.subscribe("bench.echo", max_pending=100_000)
        await connection.flush()
        print("ready", flush=True)
        async for request in requests:
            if request.reply is not None:
                connection.publish(request.reply, request.payload)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
