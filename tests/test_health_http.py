"""The HTTP endpoint, over real sockets with a real client.

These tests do real network I/O, so they run on Trio's real clock (an autojumping clock would
jump whenever every task waits on a socket): each is a plain test calling ``trio.run`` itself,
with every wait bounded by ``trio.fail_after``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

import otp
import otp.health
from otp.health import Check, HealthDeclarationError, HealthMonitor
from otp.testing import assert_no_orphans

httpx = pytest.importorskip("httpx")
pytest.importorskip("hypercorn")

LIMIT = 20  # seconds; generous for a loaded machine, never reached when things work


def run_real(test: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(LIMIT):
            await test()
        assert_no_orphans()

    trio.run(bounded)


async def idle(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep_forever()


async def get(client: Any, url: str) -> tuple[int, dict[str, Any]]:
    response = await client.get(url)
    assert response.headers["content-type"] == "application/json"
    return response.status_code, json.loads(response.content)


def test_healthz_readyz_and_detail_answer_with_codes_and_json() -> None:
    state = {"db_up": True}

    async def ping() -> bool:
        return state["db_up"]

    async def main() -> None:
        monitor = HealthMonitor({"root/db": [Check("ping", ping, interval=0.05)]})
        tree = [
            monitor.child_spec(),
            otp.ChildSpec("db", idle),
            otp.ChildSpec("http", functools.partial(otp.health.serve_http, monitor)),
        ]
        async with (
            otp.open_supervisor(tree, name="root", hooks=[monitor.hook]) as sup,
            httpx.AsyncClient() as client,
        ):
            url = sup.get_child("http").value
            assert url.startswith("http://127.0.0.1:")
            assert int(url.rsplit(":", 1)[1]) > 0
            assert await get(client, url + "/healthz") == (
                200,
                {"alive": True, "status": "healthy", "reasons": []},
            )
            assert await get(client, url + "/readyz") == (
                200,
                {"ready": True, "started": True, "status": "healthy", "reasons": []},
            )
            status, detail = await get(client, url + "/health")
            assert status == 200
            assert detail["status"] == "healthy"
            assert set(detail["subtrees"]) == {"", "root", "root/db", "root/health", "root/http"}
            assert [c["check"] for c in detail["checks"]] == ["ping"]

            state["db_up"] = False
            await monitor.wait_for(lambda report: report.status != "healthy")
            reason = "root/db: check 'ping': returned False"
            assert await get(client, url + "/readyz") == (
                503,
                {"ready": False, "started": True, "status": "unhealthy", "reasons": [reason]},
            )
            # A failing check is no reason to restart the process: still alive.
            assert (await get(client, url + "/healthz"))[0] == 200
            status, detail = await get(client, url + "/health")
            assert (status, detail["status"], detail["ready"]) == (200, "unhealthy", False)
            assert detail["subtrees"]["root/db"] == {"status": "unhealthy", "reasons": [reason]}
            assert detail["checks"][0]["passed"] is False

            status, body = await get(client, url + "/nope")
            assert status == 404
            assert "try /healthz" in body["error"]
            response = await client.post(url + "/healthz")
            assert response.status_code == 405
            head = await client.head(url + "/readyz")
            assert (head.status_code, head.content) == (503, b"")

    run_real(main)


def test_healthz_fails_once_a_supervisor_gave_up() -> None:
    async def crashes(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep(0.01)
        raise RuntimeError("crash")

    async def main() -> None:
        monitor = HealthMonitor()
        workers = otp.supervisor_spec(
            "workers", [otp.ChildSpec("w", crashes)], intensity=1, restart="temporary"
        )
        tree = [monitor.child_spec(), workers]
        async with (
            trio.open_nursery() as nursery,
            httpx.AsyncClient() as client,
        ):
            url = await nursery.start(otp.health.serve_http, monitor)
            async with otp.open_supervisor(tree, name="root", hooks=[monitor.hook]):
                await monitor.wait_for(lambda report: not report.alive)
                status, body = await get(client, url + "/healthz")
                assert (status, body["alive"], body["status"]) == (503, False, "unhealthy")
                assert body["reasons"][0].startswith("root/workers: gave up: ")
            nursery.cancel_scope.cancel()

    run_real(main)


def test_not_ready_before_the_tree_started() -> None:
    gate = trio.Event()

    async def waits(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await gate.wait()
        task_status.started()
        await trio.sleep_forever()

    async def main() -> None:
        monitor = HealthMonitor()
        tree = [monitor.child_spec(), otp.ChildSpec("slow", waits)]
        async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
            url = await nursery.start(otp.health.serve_http, monitor)
            nursery.start_soon(
                functools.partial(otp.supervisor, tree, name="root", hooks=[monitor.hook])
            )
            await monitor.wait_for(lambda r: "root/health" in {s.path for s in r.subtrees})
            assert await get(client, url + "/readyz") == (
                503,
                {"ready": False, "started": False, "status": "healthy", "reasons": []},
            )
            gate.set()
            await monitor.wait_for(lambda report: report.ready)
            assert (await get(client, url + "/readyz"))[0] == 200
            nursery.cancel_scope.cancel()

    run_real(main)


def test_bad_endpoint_options_are_refused() -> None:
    monitor = HealthMonitor()

    async def main() -> None:
        with pytest.raises(HealthDeclarationError, match="port must be an int from 0 to 65535"):
            await otp.health.serve_http(monitor, port=70000)
        with pytest.raises(HealthDeclarationError, match="port must be an int"):
            await otp.health.serve_http(monitor, port="80")  # type: ignore[arg-type]
        with pytest.raises(HealthDeclarationError, match="host must be a non-empty string"):
            await otp.health.serve_http(monitor, host="")
        with pytest.raises(HealthDeclarationError, match=r"monitor must be an otp\.health"):
            await otp.health.serve_http("monitor")  # type: ignore[arg-type]

    run_real(main)
    with pytest.raises(HealthDeclarationError, match=r"monitor must be an otp\.health"):
        otp.health.health_app(None)  # type: ignore[arg-type]
