"""A tree that spans three nodes: a cache owned by node ``a``, run on ``b`` or ``c``.

Node ``a`` runs ``owner.toml``: its root supervisor owns one remote child, the ``Cache``
server below, placed on node ``b`` while it is up and on any node of role ``cache``
otherwise, and holding the global name ``cache``. Nodes ``b`` and ``c`` only host::

    python -m otp.dist server                          # prints nats-server: nats://...
    python -m otp.dist node --name b --role cache --server nats://127.0.0.1:PORT
    python -m otp.dist node --name c --role cache --server nats://127.0.0.1:PORT
    python -m otp.dist node --name a --tree examples/cluster/owner.toml --server nats://...

Kill node ``b`` (``kill -9``): within seconds node ``a`` judges it down and restarts the
cache on node ``c``; ``python -m otp.dist call cache whoami --server ...`` says where it is.
"""

from __future__ import annotations

from typing import Any

import trio

import otp
import otp.dist


class Cache(otp.GenServer[Any, Any]):
    """A key-value cache that says which node it runs on.

    Requests: ``["put", key, value]``, ``["get", key]``, ``"whoami"`` (the node's name),
    ``["sleep", seconds]`` (a slow call), ``"crash"``.

    Example::

        await node.global_ref("cache").call(["put", "k", 1])
    """

    async def init(self) -> None:
        """Start empty, on the node whose block runs it."""
        self.node = otp.dist.current_node().name
        self.data: dict[str, Any] = {}

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:  # noqa: ANN401
        """Answer one request (see the class docstring)."""
        match request:
            case "whoami":
                return self.node
            case "crash":
                msg = f"cache on {self.node} asked to crash"
                raise RuntimeError(msg)
            case ["put", str(key), value]:
                self.data[key] = value
                return "ok"
            case ["get", str(key)]:
                return self.data.get(key)
            case ["sleep", int(seconds) | float(seconds)]:
                await trio.sleep(seconds)
                return self.node
        msg = f"unknown request {request!r}"
        raise ValueError(msg)
