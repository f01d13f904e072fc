"""The default tree of ``otp-bench``: the gen_servers it runs and how they are supervised.

The tree::

    bench               rest_for_one, 20 restarts in 10 s
    ├── config          ConfigServer, named "config"
    ├── services        one_for_one, 3 restarts in 5 s, jittered backoff from 20 ms
    │   ├── svc-0       Service, named "svc-0"
    │   └── ...         (svc-1 to svc-3: one per ``services``, 4 by default)
    ├── pair            one_for_all, 3 restarts in 5 s: the two only make sense together
    │   ├── primary     Service, named "primary"
    │   └── replicator  a plain worker that casts to "primary" and beats
    └── sessions        dynamic supervisor of Session servers (the clients open them)

The nested supervisors keep the library's default intensity, so a burst of faults in one of
them makes it give up (an escalation); the root's is generous, so that a default run rides
out its faults rather than ending early.

Every server and the worker carry a :class:`otp.Heartbeat`, so that an injected ``hang`` is
noticed by liveness rather than only by the clients' timeouts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

import otp

from ._layout import BenchTree

__all__ = ["ConfigServer", "Service", "Session", "default_tree", "replicator"]

LIVENESS = otp.Heartbeat(interval=0.25)
"""The liveness contract of every child of the default tree.

A busy server beats at each message and is exempt while idle, so only a handler that never
returns trips it: about a second after a hang, the supervisor restarts the child.
"""

REPLICATE_EVERY = 0.1
"""Seconds between two casts of the replicator (and two of its heartbeats)."""


class Service(otp.GenServer[Any, Any]):
    """A named service: answers ``"ping"`` with ``"pong"`` and echoes any other request.

    The workload of ``otp-bench`` calls every named server with ``"ping"``, so this class (or
    a subclass) is what a tree file names for a server the benchmark should call. Casts are
    counted and otherwise ignored.

    Example::

        children = [otp.bench.Service.child_spec(id="svc", name="svc")]
        async with otp.open_supervisor(children):
            assert await otp.named("svc").call("ping") == "pong"
    """

    served: int
    casts: int

    async def init(self, *args: object) -> None:
        """Start with no calls served (``args`` are accepted and ignored)."""
        self.served = 0
        self.casts = 0

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:  # noqa: ANN401
        """``"ping"`` gets ``"pong"``; anything else comes back as it is."""
        self.served += 1
        return "pong" if request == "ping" else request

    async def handle_cast(self, message: Any) -> None:  # noqa: ANN401
        """Count the cast."""
        self.casts += 1


class ConfigServer(Service):
    """The settings the rest of the default tree depends on: ``("get", key)`` reads one.

    Example::

        children = [otp.bench.ConfigServer.child_spec(id="config", name="config")]
        async with otp.open_supervisor(children):
            assert await otp.named("config").call(("get", "sessions")) == 4
    """

    settings: dict[str, object]

    async def init(self, *args: object) -> None:
        """Load the settings (``args``, if given, is one dict that updates the defaults)."""
        await super().init()
        self.settings = {"sessions": 4, "timeout": 1.0}
        for extra in args:
            if isinstance(extra, dict):
                self.settings.update(extra)

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:  # noqa: ANN401
        """``("get", key)`` returns a setting; other requests are a :class:`Service`'s."""
        if isinstance(request, tuple) and len(request) == 2 and request[0] == "get":
            self.served += 1
            return self.settings.get(str(request[1]))
        return await super().handle_call(request, caller)


class Session(Service):
    """One client session, started on demand in a dynamic supervisor.

    Example::

        template = otp.bench.Session.child_spec(id="session")
        async with otp.open_dynamic_supervisor(template) as pool:
            session = (await pool.start_child()).value
            assert await session.call("ping") == "pong"
    """


async def replicator(
    primary: str = "primary",
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A worker that casts to the server named ``primary`` and beats, every 0.1 s.

    A cast never fails, so it keeps going while ``primary`` restarts; the heartbeat is what
    lets liveness notice an injected hang.

    Example::

        spec = otp.ChildSpec("replicator", otp.bench.replicator, liveness=otp.Heartbeat(0.25))
    """
    target = otp.named(primary)
    task_status.started()
    tick = 0
    while True:
        await trio.sleep(REPLICATE_EVERY)
        tick += 1
        target.cast(("replicate", tick))
        otp.heartbeat()


def default_tree(*, services: int = 4, jitter: Callable[[], float] | None = None) -> BenchTree:
    """The default tree (see the module docstring) with ``services`` named services.

    ``jitter`` is the source of floats in ``[0, 1)`` for the backoff jitter of ``services``;
    the benchmark passes a seeded one so that a seed fixes every random choice of a run.

    Example::

        tree = default_tree(services=2, jitter=random.Random(0).random)
        assert [spec.id for spec in tree.children] == ["config", "services", "pair", "sessions"]
    """
    service_specs = [
        Service.child_spec(id=f"svc-{index}", name=f"svc-{index}", liveness=LIVENESS)
        for index in range(services)
    ]
    children = (
        ConfigServer.child_spec(id="config", name="config", liveness=LIVENESS),
        otp.supervisor_spec(
            "services",
            service_specs,
            strategy="one_for_one",
            intensity=3,
            period=5.0,
            # A short, jittered backoff: restarts take a realistic few tens of milliseconds
            # even on virtual time, and a burst of crashes does not restart in lockstep.
            backoff=otp.Backoff(min=0.02, max=0.5, jitter=0.2),
            random=jitter,
        ),
        otp.supervisor_spec(
            "pair",
            [
                Service.child_spec(id="primary", name="primary", liveness=LIVENESS),
                otp.ChildSpec("replicator", replicator, liveness=LIVENESS),
            ],
            strategy="one_for_all",
            intensity=3,
            period=5.0,
        ),
        otp.dynamic_supervisor_spec(
            "sessions",
            Session.child_spec(id="session", liveness=LIVENESS),
            intensity=10,
            period=5.0,
        ),
    )
    return BenchTree(
        children=children,
        name="bench",
        strategy=otp.Strategy.REST_FOR_ONE,
        # Generous at the root: the faults should exercise the nested supervisors' limits,
        # and a default run should not end with the whole tree giving up.
        intensity=20,
        period=10.0,
        label="default tree",
    )
