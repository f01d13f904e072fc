"""Role-based spawning: agents started from named role templates, with their tools granted.

An :class:`AgentTeam` is a supervisor with one dynamic supervisor per role; spawning an
agent starts a child of its role's supervisor (its ``max_agents`` is that supervisor's
``max_children``) and grants the role's tools to the agent's name on the bus.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, final

import attrs
import trio

import otp

from ._bus import ToolBus
from ._errors import RoleLimitReached, ToolsDeclarationError, ToolsError, UnknownRole
from ._permissions import check_agent, check_pattern
from ._tool import ToolInfo

__all__ = ["AgentContext", "AgentTeam", "Role"]

_RESTARTS = ("permanent", "transient", "temporary")


def _is_server_class(start: object) -> bool:
    return isinstance(start, type) and issubclass(start, otp.GenServer)


@final
@attrs.frozen(init=False)
class Role:
    """A template for agents: how to start one, the tools it gets, its config and limit.

    ``start`` is a :class:`otp.GenServer` subclass (its ``init`` gets the
    :class:`AgentContext`, and the server is registered under the agent's name) or a
    start-able async function ``(context, *, task_status)``.

    Args:
        name: The role's name; agents are named ``<role>-<n>`` unless named at spawn.
        start: The server class or start function.
        tools: Tool names or patterns granted to each agent of the role.
        config: Settings every agent of the role gets (``context.config``).
        max_agents: The most agents of this role at once (``None``: no limit).
        restart: ``"permanent"`` (default), ``"transient"`` or ``"temporary"``.
        shutdown: Seconds an agent gets to stop. Defaults to 5.
        liveness: An optional :class:`otp.Heartbeat`: an agent that stops beating (a server
            stuck in a handler) is stopped and restarted as hung.

    Example::

        researcher = otp.tools.Role(
            "researcher", Researcher, tools=["search", "fetch"], max_agents=4,
            config={"model": "small"},
        )
    """

    name: str
    start: Callable[..., Any]
    tools: tuple[str, ...]
    config: Mapping[str, object]
    max_agents: int | None
    restart: str
    shutdown: float
    liveness: otp.Heartbeat | None

    def __init__(
        self,
        name: str,
        start: Callable[..., Any],
        *,
        tools: Sequence[str] = (),
        config: Mapping[str, object] | None = None,
        max_agents: int | None = None,
        restart: str = "permanent",
        shutdown: float = 5.0,
        liveness: otp.Heartbeat | None = None,
    ) -> None:
        given: object = name
        if not isinstance(given, str) or not given:
            msg = f"Role: name must be a non-empty str (got {name!r})"
            raise ToolsDeclarationError(msg)
        owner = f"role {name!r}"
        function: object = start
        if not callable(function):
            msg = f"{owner}: start must be a GenServer class or an async start function"
            raise ToolsDeclarationError(msg)
        patterns: object = tools
        if isinstance(patterns, str) or not isinstance(patterns, Sequence):
            msg = f"{owner}: tools must be a list of tool names or patterns (got {tools!r})"
            raise ToolsDeclarationError(msg)
        for pattern in patterns:
            check_pattern(pattern)
        settings: object = {} if config is None else config
        if not isinstance(settings, Mapping):
            msg = f"{owner}: config must be a mapping (got {config!r})"
            raise ToolsDeclarationError(msg)
        limit: object = max_agents
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            msg = f"{owner}: max_agents must be an int >= 1 or None (got {max_agents!r})"
            raise ToolsDeclarationError(msg)
        if restart not in _RESTARTS:
            choices = ", ".join(map(repr, _RESTARTS))
            msg = f"{owner}: restart must be one of {choices} (got {restart!r})"
            raise ToolsDeclarationError(msg)
        seconds: object = shutdown
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            msg = f"{owner}: shutdown must be a number of seconds >= 0 (got {shutdown!r})"
            raise ToolsDeclarationError(msg)
        beat: object = liveness
        if beat is not None and not isinstance(beat, otp.Heartbeat):
            msg = f"{owner}: liveness must be an otp.Heartbeat or None (got {liveness!r})"
            raise ToolsDeclarationError(msg)
        self.__attrs_init__(
            name,
            start,
            tuple(tools),
            MappingProxyType(dict(settings)),
            max_agents,
            restart,
            float(shutdown),
            liveness,
        )


@final
@attrs.frozen
class AgentContext:
    """What an agent is started with: its name, role, config, and its way to the tools.

    Example::

        class Researcher(otp.GenServer):
            async def init(self, context: otp.tools.AgentContext) -> None:
                self.context = context

            async def handle_call(self, question, caller):
                return await self.context.call_tool("search", {"query": question})
    """

    name: str
    role: Role
    bus: ToolBus = attrs.field(repr=False)
    config: Mapping[str, object] = attrs.field(repr=False)

    async def call_tool(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109  (it shortens the tool's own)
    ) -> Any:  # noqa: ANN401
        """Call a tool on the bus as this agent (see :meth:`ToolBus.call`)."""
        return await self.bus.call(self.name, tool, arguments, timeout=timeout)

    def tools(self) -> list[ToolInfo]:
        """The tools this agent may call now."""
        return self.bus.list_available_tools(self.name)


def _agent_start(role: Role) -> Callable[..., Any]:
    """What a role's dynamic supervisor starts: the role's start, naming server agents.

    A server role runs a subclass that registers the agent's name first thing in ``init``,
    so that the spec's start is still a server class (which fault injection needs).
    """
    start = role.start
    if not _is_server_class(start):
        return start
    base: type[otp.GenServer[Any, Any]] = start  # type: ignore[assignment]

    class Agent(base):  # type: ignore[valid-type,misc]
        async def init(self, context: AgentContext, *args: Any) -> Any:  # noqa: ANN401
            self.register_name(context.name)
            return await super().init(context, *args)

    Agent.__name__ = base.__name__
    Agent.__qualname__ = base.__qualname__
    Agent.__module__ = base.__module__
    return Agent


class _Relay:
    def __init__(self, task_status: trio.TaskStatus[AgentTeam], team: AgentTeam) -> None:
        self._task_status = task_status
        self._team = team

    def started(self, value: object = None) -> None:
        assert isinstance(value, otp.Supervisor)
        self._team._supervisor = value
        self._task_status.started(self._team)


@final
class AgentTeam:
    """A supervisor of agents started on demand from roles, each with its tools granted.

    Args:
        bus: The :class:`ToolBus` the agents call tools through.
        roles: The :class:`Role` templates, by distinct names.
        name: The team's name, its child id by default.
        intensity: Restarts allowed per role within ``period`` seconds.
        period: The intensity window in seconds.
        instrument: Applied to the team's child specs (one dynamic supervisor per role, id
            the role's name, its template's id too) before they run: pass
            :meth:`otp.testing.FaultInjector.instrument` to aim faults at the agents of a
            role, as ``"<role>/<role>"``.

    Example::

        team = otp.tools.AgentTeam(bus, [researcher, writer])
        async with otp.open_supervisor([team.child_spec()]):
            ref = await team.spawn("researcher")
            answer = await ref.call("what is structured concurrency?")
    """

    def __init__(
        self,
        bus: ToolBus,
        roles: Sequence[Role],
        *,
        name: str = "agents",
        intensity: int = 3,
        period: float = 5.0,
        instrument: Callable[[Sequence[otp.ChildSpec]], Sequence[otp.ChildSpec]] | None = None,
    ) -> None:
        given: object = bus
        if not isinstance(given, ToolBus):
            msg = f"AgentTeam: bus must be an otp.tools.ToolBus (got {bus!r})"
            raise ToolsDeclarationError(msg)
        listed: object = roles
        if (
            not isinstance(listed, Sequence)
            or not listed
            or not all(isinstance(role, Role) for role in listed)
        ):
            msg = f"AgentTeam: roles must be a non-empty list of otp.tools.Role (got {roles!r})"
            raise ToolsDeclarationError(msg)
        names = [role.name for role in roles]
        if len(set(names)) != len(names):
            msg = f"AgentTeam: role names must be distinct (got {names})"
            raise ToolsDeclarationError(msg)
        self.bus = bus
        self.name = name
        self.roles = {role.name: role for role in roles}
        self.intensity = intensity
        self.period = period
        self._instrument = instrument
        self._supervisor: otp.Supervisor | None = None
        self._agents: dict[str, AgentContext] = {}
        self._numbers = {role: itertools.count(1) for role in self.roles}

    def __repr__(self) -> str:
        return f"<otp.tools.AgentTeam {self.name!r} {len(self._agents)} agents>"

    def child_spec(self, id: str | None = None, **options: Any) -> otp.ChildSpec:  # noqa: A002, ANN401
        """A supervisor-type child spec running this team.

        Example::

            async with otp.open_supervisor([team.child_spec()]):
                ...
        """
        options.setdefault("type", "supervisor")
        return otp.ChildSpec(self.name if id is None else id, self.run, **options)

    async def run(
        self, *, task_status: trio.TaskStatus[AgentTeam] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the team (one dynamic supervisor per role) until cancelled.

        Example::

            team = await nursery.start(otp.tools.AgentTeam(bus, roles).run)
        """
        if self._supervisor is not None:
            msg = f"team {self.name!r} is already running; run it once at a time"
            raise RuntimeError(msg)
        specs = [
            otp.dynamic_supervisor_spec(
                role.name,
                otp.ChildSpec(
                    role.name,
                    _agent_start(role),
                    restart=otp.Restart(role.restart),
                    shutdown=role.shutdown,
                    liveness=role.liveness,
                ),
                max_children=role.max_agents,
                intensity=self.intensity,
                period=self.period,
            )
            for role in self.roles.values()
        ]
        if self._instrument is not None:
            specs = list(self._instrument(specs))
        name = None if otp.current_child() is not None else f"team {self.name}"
        try:
            await otp.supervisor(specs, name=name, task_status=_Relay(task_status, self))
        finally:
            self._supervisor = None
            for agent in self._agents:
                self.bus.forget(agent)
            self._agents.clear()

    async def spawn(self, role: str, name: str | None = None) -> Any:  # noqa: ANN401
        """Start an agent of ``role``, granting it the role's tools; return its started value.

        For a server role that is the agent's :class:`otp.ServerRef` (also registered under
        ``name``, ``<role>-<n>`` by default).

        Raises:
            UnknownRole: The team has no such role.
            RoleLimitReached: The role runs its ``max_agents`` agents already.
            otp.StartError: The agent failed to start (its grants are taken back).

        Example::

            ref = await team.spawn("researcher", name="ada")
        """
        template = self.roles.get(role)
        if template is None:
            msg = f"team {self.name!r} has no role {role!r} (roles: {sorted(self.roles)})"
            raise UnknownRole(msg)
        supervisor = self._role_supervisor(role)
        agent = check_agent(name) if name is not None else f"{role}-{next(self._numbers[role])}"
        if agent in self._agents:
            msg = f"team {self.name!r} already runs an agent named {agent!r}"
            raise ToolsDeclarationError(msg)
        context = AgentContext(agent, template, self.bus, template.config)
        if template.tools:
            self.bus.grant(agent, *template.tools)
        try:
            child = await supervisor.start_child(context)
        except otp.MaxChildrenReached:
            self.bus.forget(agent)
            msg = (
                f"role {role!r} already runs its {template.max_agents} agents; stop one "
                "or raise max_agents"
            )
            raise RoleLimitReached(msg) from None
        except BaseException:
            self.bus.forget(agent)
            raise
        if child is None:  # the agent declined to start (otp.Ignore)
            self.bus.forget(agent)
            return None
        self._agents[agent] = context
        return child.value

    async def stop(self, agent: str) -> None:
        """Stop an agent for good and take its tools back. Unknown names are ignored.

        Example::

            await team.stop("ada")
        """
        context = self._agents.pop(agent, None)
        if context is None:
            return
        self.bus.forget(agent)
        supervisor = self._supervisor
        handle = None if supervisor is None else supervisor.get_child(context.role.name)
        if handle is None:
            return
        # Found by its context: a restart made a new Child, with the same arguments.
        role_supervisor: otp.DynamicSupervisor = handle.value
        for info in role_supervisor.which_children():
            if info.child is not None and any(arg is context for arg in info.child.args):
                await role_supervisor.terminate_child(info.child)

    def agents(self, role: str | None = None) -> list[str]:
        """The names of the running agents (of one role, if given), by name."""
        return sorted(a for a, c in self._agents.items() if role is None or c.role.name == role)

    def _role_supervisor(self, role: str) -> otp.DynamicSupervisor:
        if self._supervisor is None:
            msg = f"team {self.name!r} is not running; start it (child_spec() or run()) first"
            raise ToolsError(msg)
        handle = self._supervisor.get_child(role)
        if handle is None:
            msg = f"team {self.name!r}: the supervisor of role {role!r} is restarting; try again"
            raise ToolsError(msg)
        supervisor: otp.DynamicSupervisor = handle.value
        return supervisor
