"""Node liveness: heartbeats into phi, peers up, suspect and down; pauses, kills, partitions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trio

import otp.dist
from otp.dist import Peers, PeerState, open_node

from .nats_broker import nats_server
from .node_processes import read_line
from .test_dist_client import LIMIT, run

BEAT = 0.2


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def beating(peers: Peers, clock: Clock, name: str, node_id: str, until: float) -> list[Any]:
    events = []
    while clock.now < until:
        events += peers.heartbeat(name, node_id)
        clock.now += 1.0
        events += peers.check()
    return events


def test_a_silent_peer_goes_suspect_then_down_and_comes_back_when_heard() -> None:
    clock = Clock()
    peers = Peers(interval=1.0, clock=clock)
    assert [e.state for e in beating(peers, clock, "b", "b@h:1", 10)] == [PeerState.UP]
    states = []
    for _ in range(60):
        clock.now += 0.1
        states += [(e.state, e.reason) for e in peers.check()]
    assert states == [(PeerState.SUSPECT, "silent"), (PeerState.DOWN, "node_down")]
    assert peers.info()["b"].state is PeerState.DOWN
    back = peers.heartbeat("b", "b@h:1")
    assert [(e.previous, e.state) for e in back] == [(PeerState.DOWN, PeerState.UP)]
    assert peers.check() == []  # the pause did not widen its rhythm into a new suspicion


def test_a_new_incarnation_ends_the_old_one() -> None:
    clock = Clock()
    peers = Peers(interval=1.0, clock=clock)
    beating(peers, clock, "b", "b@h:1", 5)
    events = peers.heartbeat("b", "b@h:2")
    assert [(e.node_id, e.state.value, e.reason) for e in events] == [
        ("b@h:1", "down", "restarted"),
        ("b@h:2", "up", "heartbeat"),
    ]


def test_after_a_partition_the_silence_is_not_held_against_peers() -> None:
    clock = Clock()
    peers = Peers(interval=1.0, clock=clock)
    beating(peers, clock, "b", "b@h:1", 10)
    clock.now += 30  # we were cut off
    peers.resume_all()
    assert peers.check() == []


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="0 < suspect_phi < down_phi"):
        Peers(interval=1.0, suspect_phi=9, down_phi=8, clock=Clock())


# --- over the real broker ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with nats_server() as (address, _):
        yield address


def start_peer(url: str, name: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.dist_node_peer", url, name],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OTP_TEST_HEARTBEAT": str(BEAT)},
    )
    try:
        assert read_line(process).strip() == "ready"
    except BaseException:
        stop_peer(process)
        raise
    return process


def stop_peer(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait(timeout=LIMIT)
    if process.stdout is not None:
        process.stdout.close()


async def wait_for_state(node: otp.dist.Node, name: str, state: PeerState) -> float:
    began = trio.current_time()
    while name not in node.peers() or node.peers()[name].state is not state:  # noqa: ASYNC110
        await trio.sleep(0.02)
    return trio.current_time() - began


def test_a_killed_node_is_down_within_its_budget_and_a_short_pause_is_not(url: str) -> None:
    b = start_peer(url, "b")
    try:

        async def main() -> tuple[list[Any], float]:
            events: list[Any] = []
            async with open_node(url, "a", heartbeat_interval=BEAT, on_peer=[events.append]) as a:
                await wait_for_state(a, "b", PeerState.UP)
                await trio.sleep(1.0)  # a rhythm to judge by
                os.kill(b.pid, signal.SIGSTOP)
                await trio.sleep(0.3)  # shorter than the budget
                os.kill(b.pid, signal.SIGCONT)
                await trio.sleep(1.0)
                assert a.peers()["b"].state is not PeerState.DOWN
                killed = trio.current_time()
                b.kill()
                await wait_for_state(a, "b", PeerState.DOWN)
                return events, trio.current_time() - killed

        events, took = run(main)
    finally:
        stop_peer(b)
    downs = [e for e in events if e.name == "b" and e.state is PeerState.DOWN]
    assert len(downs) == 1  # the pause made no down, the kill exactly one
    assert downs[0].reason == "node_down"
    assert took < 3.0  # 0.2 s beats: phi 8 after ~1 s pause allowance plus a few intervals


def test_a_long_pause_is_down_then_up_again(url: str) -> None:
    b = start_peer(url, "b2")
    try:

        async def main() -> list[tuple[str, str]]:
            events: list[Any] = []
            async with open_node(url, "a2", heartbeat_interval=BEAT, on_peer=[events.append]) as a:
                await wait_for_state(a, "b2", PeerState.UP)
                await trio.sleep(1.0)
                os.kill(b.pid, signal.SIGSTOP)
                await wait_for_state(a, "b2", PeerState.DOWN)
                os.kill(b.pid, signal.SIGCONT)
                await wait_for_state(a, "b2", PeerState.UP)
            return [(e.state.value, e.reason) for e in events if e.name == "b2"]

        began = time.perf_counter()
        states = run(main)
        assert time.perf_counter() - began < LIMIT
    finally:
        stop_peer(b)
    assert states[0] == ("up", "heartbeat")
    assert ("down", "node_down") in states
    assert states[-1] == ("up", "heartbeat")


def test_a_peer_that_says_goodbye_is_down_at_once() -> None:
    clock = Clock()
    peers = Peers(interval=1.0, clock=clock)
    beating(peers, clock, "b", "b@h:1", 3)
    assert peers.leave("b", "b@h:0") == []  # not that incarnation
    [event] = peers.leave("b", "b@h:1")
    assert (event.state, event.reason) == (PeerState.DOWN, "left")
    assert peers.leave("b", "b@h:1") == []
    assert peers.info()["b"].state is PeerState.DOWN
