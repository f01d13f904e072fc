"""otp.dist nodes over a real nats-server: exported servers called by cluster name."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio

import otp
import otp.dist
from otp.dist import open_node

from .nats_broker import nats_server
from .node_processes import read_line
from .test_dist_client import LIMIT, run


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with nats_server() as (address, _):
        yield address


@attrs.frozen
class Order:
    sku: str
    quantity: int


class Shop(otp.GenServer[Any, Any]):
    async def init(self) -> None:
        self.orders: list[Order] = []
        self.casts: list[object] = []

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request == "crash":
            raise ValueError("shop bug")
        if request == "slow":
            await trio.sleep(30)
        if isinstance(request, Order):
            self.orders.append(request)
            return Order(request.sku, len(self.orders))
        if request == "casts":
            return self.casts
        return {"echo": request}

    async def handle_cast(self, message: Any) -> None:
        self.casts.append(message)


def test_a_server_exported_on_one_node_is_called_from_another(url: str) -> None:
    async def main() -> dict[str, Any]:
        results: dict[str, Any] = {}
        children = [Shop.child_spec(name="shop")]
        async with (
            otp.open_supervisor(children, intensity=10),
            open_node(url, "a") as a,
            open_node(url, "b") as b,
        ):
            await a.export("shop", "shop")
            await a.export("orders", "shop", request_type=Order)
            shop = b.remote("shop")
            results["echo"] = await shop.call({"x": [1, 2]})
            shop.cast("hello")
            await trio.sleep(0.1)
            results["casts"] = await shop.call("casts")
            orders = b.remote("orders", reply_type=Order)
            results["order"] = await orders.call(Order("apple", 3))
            with pytest.raises(otp.dist.RemoteError) as crashed:
                await shop.call("crash")
            results["crash"] = crashed.value
            began = time.perf_counter()
            with pytest.raises(otp.NoProc, match="exports a server 'nobody'"):
                await b.remote("nobody").call("?", timeout=5)
            results["noproc_seconds"] = time.perf_counter() - began
            await trio.sleep(0.1)  # the shop was restarted by its supervisor
            results["after"] = await shop.call("again")
            assert a.id.startswith("a@")
        return results

    results = run(main)
    assert results["echo"] == {"echo": {"x": [1, 2]}}
    assert results["casts"] == ["hello"]
    assert results["order"] == Order("apple", 1)
    crash = results["crash"]
    assert crash.type == "ServerExited"
    assert "ValueError: shop bug" in crash.remote_message
    assert "Traceback" in crash.remote_traceback
    assert results["noproc_seconds"] < 1.0  # no responders: a round trip, not the timeout
    assert results["after"] == {"echo": "again"}


def test_the_callers_deadline_travels_and_a_timed_out_handler_is_cancelled(url: str) -> None:
    cancelled: list[float] = []

    class Slow(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            try:
                await trio.sleep(30)
            except trio.Cancelled:
                cancelled.append(trio.current_time())
                raise
            return "late"

    async def main() -> float:
        async with (
            otp.open_supervisor([Slow.child_spec(name="slow")]),
            open_node(url, "a") as a,
            open_node(url, "b") as b,
        ):
            await a.export("slow", "slow")
            began = trio.current_time()
            with pytest.raises(otp.CallTimeout, match=r"within 0\.5 s"):
                await b.remote("slow").call("?", timeout=0.5)
            await trio.sleep(0.3)
            return began

    began = run(main)
    assert len(cancelled) == 1
    assert cancelled[0] - began < 1.0  # cancelled at the deadline, not after 30 s


def test_bad_messages_become_dead_letters_and_the_node_goes_on(url: str) -> None:
    async def main() -> tuple[Any, list[Any], list[str]]:
        async with (
            otp.open_supervisor([Shop.child_spec(name="shop")]),
            open_node(url, "a") as a,
            open_node(url, "b") as b,
        ):
            await a.export("orders", "shop", request_type=Order)
            dead = b.connection.subscribe("otp.main.dead")
            await b.connection.flush()
            orders = b.remote("orders")
            with pytest.raises(otp.dist.RemoteError, match="InvalidMessage") as wrong:
                await orders.call({"sku": "apple"})  # no quantity
            connection = b.connection
            reply = await connection.request(
                a.subject("orders"), b"{oops", headers={"Otp-Protocol": "1"}
            )
            with pytest.raises(otp.dist.RemoteError, match=r"InvalidMessage"):
                b.remote("orders")._unwrap(reply.payload)
            connection.publish(a.subject("orders"), b"{}", headers={"Otp-Protocol": "0"})
            await connection.flush()
            records = [json.loads((await dead.next()).payload)["reason"] for _ in range(3)]
            assert await orders.call(Order("pear", 1)) == {"sku": "pear", "quantity": 1}
            return wrong.value, list(a.dead_letters), records

    wrong, letters, records = run(main)
    assert "quantity" in wrong.remote_message
    assert len(letters) == 3
    assert "invalid request for 'orders'" in records[0]
    assert "JSONDecodeError" in records[1]
    assert "protocol version '0'; this node speaks '1'" in records[2]


def test_bad_names_and_messages_fail_at_the_caller(url: str) -> None:
    async def main() -> None:
        async with open_node(url, "a") as a:
            with pytest.raises(otp.dist.DistDeclarationError, match="a server name"):
                a.remote("has.dot")
            with pytest.raises(otp.dist.DistDeclarationError, match="JSON-able"):
                await a.remote("x").call(object())
            await a.export("x", "x")
            with pytest.raises(otp.dist.DistDeclarationError, match="already exports 'x'"):
                await a.export("x", "x")

    run(main)
    with pytest.raises(otp.dist.DistDeclarationError, match="a node name"):
        run(lambda: open_node(url, "a b").__aenter__())


def test_a_node_in_another_process_and_a_pool_of_two(url: str) -> None:
    peers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.dist_node_peer", url, name],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    try:
        for peer in peers:
            assert peer.stdout is not None
            assert read_line(peer).strip() == "ready"

        async def main() -> tuple[set[str], Any]:
            async with open_node(url, "caller") as node:
                echo = node.remote("echo")
                served = {(await echo.call(n))[0] for n in range(20)}
                with pytest.raises(otp.dist.RemoteError, match="asked to crash"):
                    await echo.call("crash")
                await trio.sleep(0.2)
                return served, await echo.call("still there")

        served, after = run(main)
        assert served == {"p1", "p2"}  # the queue group spread the calls over both nodes
        assert after[1] == "still there"
    finally:
        for peer in peers:
            peer.kill()
            peer.wait(timeout=LIMIT)
            if peer.stdout is not None:
                peer.stdout.close()


def test_msgpack_nodes_and_json_nodes_call_each_other(url: str) -> None:
    pytest.importorskip("msgpack", reason="the msgpack codec needs msgpack (otp[msgpack])")

    async def main() -> dict[str, Any]:
        results: dict[str, Any] = {}
        async with (
            otp.open_supervisor([Shop.child_spec(name="shop")], intensity=10),
            open_node(url, "mp-a", codec="msgpack") as a,
            open_node(url, "mp-b", codec="msgpack") as b,
            open_node(url, "js-c") as c,
        ):
            await a.export("shop", "shop", request_type=Order)
            orders = b.remote("shop", reply_type=Order)
            results["msgpack"] = await orders.call(Order("pear", 2))
            results["json"] = await c.remote("shop", reply_type=Order).call(Order("fig", 1))
            with pytest.raises(otp.dist.RemoteError, match="InvalidMessage"):
                await b.remote("shop").call({"sku": 5})  # the wrong schema, in msgpack
        return results

    assert run(main) == {"msgpack": Order("pear", 1), "json": Order("fig", 2)}


def test_an_unknown_codec_is_refused_when_the_node_opens() -> None:
    async def main() -> None:
        async with open_node("nats://127.0.0.1:1", "a", codec="yaml"):
            pass

    with pytest.raises(otp.dist.DistDeclarationError, match="codec must be 'json' or 'msgpack'"):
        run(main)
