"""A nats-py (asyncio) peer for interop tests: ``respond URL SUBJECT`` or ``request URL SUBJECT``.

``respond`` answers each request with its payload upper-cased (and its headers echoed) and
prints ``ready`` once subscribed; ``request`` sends one request and prints the reply.
"""

from __future__ import annotations

import asyncio
import sys

import nats  # type: ignore[import-untyped]


async def respond(url: str, subject: str) -> None:
    connection = await nats.connect(url)

    async def answer(message: object) -> None:
        headers = getattr(message, "headers", None)
        await message.respond(message.data.upper()) if not headers else await connection.publish(  # type: ignore[attr-defined]
            message.reply,
            message.data.upper(),
            headers=headers,  # type: ignore[attr-defined]
        )

    await connection.subscribe(subject, cb=answer)
    await connection.flush()
    print("ready", flush=True)
    await asyncio.sleep(30)  # the test kills it long before


async def request(url: str, subject: str) -> None:
    connection = await nats.connect(url)
    reply = await connection.request(subject, b"from nats-py", timeout=5)
    print(reply.data.decode(), flush=True)
    await connection.close()


if __name__ == "__main__":
    mode, url, subject = sys.argv[1:4]
    asyncio.run(respond(url, subject) if mode == "respond" else request(url, subject))
