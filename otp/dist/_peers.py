"""Pure: which peers are up, suspect or down, from their heartbeats, on an injected clock.

Each peer (a node name) gets a phi-accrual detector fed with its heartbeats' arrival times;
:meth:`Peers.check` turns phi into states: ``up`` below ``suspect_phi``, ``suspect`` from
there, ``down`` once phi reaches the detector's threshold. A heartbeat from a suspect peer
makes it ``up`` again; from a down one, too (it was only paused), and a heartbeat from a new
incarnation (another node id under the same name) first ends the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import final

import attrs

import otp

__all__ = ["PeerEvent", "PeerInfo", "PeerState", "Peers"]


class PeerState(StrEnum):
    """Where a peer node is, as seen from here.

    Example::

        if node.peers()["b"].state is otp.dist.PeerState.DOWN:
            ...
    """

    UP = "up"
    SUSPECT = "suspect"
    DOWN = "down"


@final
@attrs.frozen
class PeerInfo:
    """One peer: its node id, state, current phi and when it was last heard (clock time).

    Example::

        for name, peer in node.peers().items():
            print(name, peer.state, round(peer.phi, 1))
    """

    name: str
    node_id: str
    state: PeerState
    phi: float
    last_seen: float


@final
@attrs.frozen
class PeerEvent:
    """A peer changed state (``previous`` is ``None`` when it was first heard of).

    ``reason`` is ``"heartbeat"`` (heard again), ``"silent"`` (suspect), ``"node_down"``
    (silent past the threshold), ``"restarted"`` (a new incarnation replaced it) or
    ``"left"`` (it said goodbye as it left the cluster).

    Example::

        async with otp.dist.open_node(url, "a", on_peer=print) as node:
            ...
    """

    name: str
    node_id: str
    previous: PeerState | None
    state: PeerState
    reason: str
    time: float


class _Peer:
    __slots__ = ("detector", "last_seen", "node_id", "state")

    def __init__(self, node_id: str, detector: otp.PhiAccrualDetector, now: float) -> None:
        self.node_id = node_id
        self.detector = detector
        self.state = PeerState.UP
        self.last_seen = now


@final
class Peers:
    """The peers of one node; call :meth:`heartbeat` on arrival, :meth:`check` periodically.

    Example::

        >>> now = [0.0]
        >>> peers = Peers(interval=1.0, clock=lambda: now[0])
        >>> [e.state.value for e in peers.heartbeat("b", "b@h:1")]
        ['up']
        >>> now[0] = 30.0
        >>> [e.state.value for e in peers.check()]
        ['down']
    """

    def __init__(
        self,
        *,
        interval: float,
        suspect_phi: float = 3.0,
        down_phi: float = 8.0,
        acceptable_pause: float = 1.0,
        clock: Callable[[], float],
    ) -> None:
        if not 0 < suspect_phi < down_phi:
            msg = f"Peers: need 0 < suspect_phi < down_phi (got {suspect_phi!r}, {down_phi!r})"
            raise ValueError(msg)
        self.interval = interval
        self.suspect_phi = suspect_phi
        self.down_phi = down_phi
        self.acceptable_pause = acceptable_pause
        self._clock = clock
        self._peers: dict[str, _Peer] = {}

    def _detector(self) -> otp.PhiAccrualDetector:
        return otp.PhiAccrualDetector(
            threshold=self.down_phi,
            acceptable_heartbeat_pause=self.acceptable_pause,
            first_heartbeat_estimate=self.interval,
            min_std_deviation=max(self.interval / 10, 0.01),
            clock=self._clock,
        )

    def heartbeat(self, name: str, node_id: str) -> list[PeerEvent]:
        """A heartbeat from ``name`` (incarnation ``node_id``) arrived now."""
        now = self._clock()
        events: list[PeerEvent] = []
        peer = self._peers.get(name)
        if peer is not None and peer.node_id != node_id:
            if peer.state is not PeerState.DOWN:
                events.append(
                    PeerEvent(name, peer.node_id, peer.state, PeerState.DOWN, "restarted", now)
                )
            peer = None
        if peer is None:
            peer = self._peers[name] = _Peer(node_id, self._detector(), now)
            peer.detector.heartbeat()
            events.append(PeerEvent(name, node_id, None, PeerState.UP, "heartbeat", now))
            return events
        peer.last_seen = now
        if peer.state is PeerState.DOWN:
            peer.detector.resume()  # the silence was a pause, not its rhythm
        else:
            peer.detector.heartbeat()
        if peer.state is not PeerState.UP:
            events.append(PeerEvent(name, node_id, peer.state, PeerState.UP, "heartbeat", now))
            peer.state = PeerState.UP
        return events

    def leave(self, name: str, node_id: str) -> list[PeerEvent]:
        """``name`` (incarnation ``node_id``) said it is leaving: it is down at once."""
        peer = self._peers.get(name)
        if peer is None or peer.node_id != node_id or peer.state is PeerState.DOWN:
            return []
        event = PeerEvent(name, node_id, peer.state, PeerState.DOWN, "left", self._clock())
        peer.state = PeerState.DOWN  # its next incarnation (a new id) is heard of afresh
        return [event]

    def check(self) -> list[PeerEvent]:
        """Move peers whose silence grew to ``suspect`` or ``down``."""
        now = self._clock()
        events = []
        for name, peer in self._peers.items():
            if peer.state is PeerState.DOWN:
                continue
            phi = peer.detector.phi()
            state = (
                PeerState.DOWN
                if phi >= self.down_phi
                else PeerState.SUSPECT
                if phi >= self.suspect_phi
                else PeerState.UP
            )
            if state is not peer.state and state is not PeerState.UP:
                reason = "node_down" if state is PeerState.DOWN else "silent"
                events.append(PeerEvent(name, peer.node_id, peer.state, state, reason, now))
                peer.state = state
        return events

    def resume_all(self) -> None:
        """After this node was cut off: the silence was ours, so nobody's clock counts it."""
        for peer in self._peers.values():
            if peer.state is not PeerState.DOWN:
                peer.detector.resume()

    def info(self) -> dict[str, PeerInfo]:
        """Every peer heard of, by name."""
        return {
            name: PeerInfo(name, p.node_id, p.state, p.detector.phi(), p.last_seen)
            for name, p in sorted(self._peers.items())
        }
