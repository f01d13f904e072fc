"""A node in its own process for tests: ``python -m tests.dist_node_peer URL NAME``.

It exports a server as ``echo`` (replies ``[node, request]``; ``"crash"`` crashes it, under
a supervisor that restarts it) and prints ``ready`` once calls reach it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import trio

import otp
import otp.dist


class Echo(otp.GenServer[Any, Any]):
    async def init(self, node: str) -> None:
        self.node = node

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "crash":
            raise RuntimeError("asked to crash")
        if request == "sleep":
            await trio.sleep(60)
        return [self.node, request]


async def main(url: str, name: str) -> None:
    children = [Echo.child_spec(name, name="echo")]
    beat = float(os.environ.get("OTP_TEST_HEARTBEAT", "1.0"))
    async with (
        otp.open_supervisor(children, intensity=100),
        otp.dist.open_node(url, name, heartbeat_interval=beat) as node,
    ):
        await node.export("echo", "echo")
        print("ready", flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
