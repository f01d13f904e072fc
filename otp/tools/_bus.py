"""The tool bus: a registry of tools, who may call which, and every call audited.

The path of a call, in :meth:`ToolBus.call`: find the tool, check the agent's permission
(``_permissions``), validate the arguments (``_schema``), run the tool under its timeout and
breaker, validate the result; every step that ends the call records an :class:`AuditEvent`
and the tool's figures.
"""

from __future__ import annotations

import collections
import difflib
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from enum import StrEnum
from typing import Any, final

import attrs
import trio

import otp
import otp.metrics

from ._errors import (
    InvalidArguments,
    InvalidResult,
    PermissionDenied,
    ToolCallError,
    ToolFailed,
    ToolsDeclarationError,
    ToolTimedOut,
    ToolUnavailable,
    UnknownTool,
)
from ._permissions import Permissions, check_agent
from ._schema import problems
from ._tool import Tool, ToolInfo

__all__ = ["AuditEvent", "AuditOutcome", "ToolBus", "ToolStatistics"]

logger = logging.getLogger("otp.tools")


class AuditOutcome(StrEnum):
    """How one tool call ended.

    Example::

        denied = [e for e in bus.audit_log if e.outcome is otp.tools.AuditOutcome.DENIED]
    """

    OK = "ok"
    UNKNOWN_TOOL = "unknown_tool"
    DENIED = "denied"
    INVALID_ARGUMENTS = "invalid_arguments"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    INVALID_RESULT = "invalid_result"
    CANCELLED = "cancelled"


@final
@attrs.frozen
class AuditEvent:
    """One tool call: who called what, how it ended, how long it took (seconds).

    ``error`` is the error's text for a call that did not end ``ok``.

    Example::

        bus = otp.tools.ToolBus(audit=[lambda event: audit_log.write(str(event))])
    """

    time: float
    agent: str
    tool: str
    outcome: AuditOutcome
    duration: float
    error: str | None = None


@final
@attrs.frozen
class ToolStatistics:
    """One tool's figures: calls, how they ended, and their time in seconds.

    Example::

        stats = bus.statistics()["search"]
        print(stats.calls, stats.errors, stats.mean)
    """

    calls: int
    ok: int
    errors: int
    denied: int
    timed_out: int
    total: float
    maximum: float

    @property
    def mean(self) -> float:
        """The mean time of the calls that ran, ``0.0`` before the first."""
        ran = self.ok + self.errors
        return self.total / ran if ran else 0.0


class _Figures:
    __slots__ = ("calls", "denied", "errors", "maximum", "ok", "timed_out", "total")

    def __init__(self) -> None:
        self.calls = self.ok = self.errors = self.denied = self.timed_out = 0
        self.total = self.maximum = 0.0


_ERRORS = {
    AuditOutcome.TIMED_OUT,
    AuditOutcome.FAILED,
    AuditOutcome.UNAVAILABLE,
    AuditOutcome.INVALID_RESULT,
}


def _some(patterns: tuple[str, ...], verb: str) -> tuple[str, ...]:
    if not patterns:
        msg = f"ToolBus.{verb}: give at least one tool name or pattern, as '*' for all"
        raise ToolsDeclarationError(msg)
    return patterns


@final
class ToolBus:
    """Tools, the agents allowed to call them, and one audited way to call them.

    Tools are registered with :meth:`register` (an async function) or
    :meth:`register_server` (a supervised server: an agent as a tool). An agent is a name;
    it may call a tool once :meth:`grant` allowed it. :meth:`call` checks the permission and
    the arguments, runs the tool under its timeout and breaker, checks the result, and
    records an :class:`AuditEvent` for every call, given to each ``audit`` hook and kept in
    :attr:`audit_log` (the newest ``audit_log_size``).

    Args:
        name: The bus's name in logs and metrics labels.
        audit: Callables that receive every :class:`AuditEvent`.
        audit_log_size: How many audit events :attr:`audit_log` keeps.
        metrics: An :class:`otp.metrics.Metrics` registry for ``otp_tools_calls_total``
            (by tool and outcome) and ``otp_tools_call_seconds`` (by tool).

    Example::

        bus = otp.tools.ToolBus()
        bus.register("add", add, description="Add two numbers.", parameters=schema)
        bus.grant("calculator", "add")
        assert await bus.call("calculator", "add", {"a": 1, "b": 2}) == 3
    """

    def __init__(
        self,
        name: str = "tools",
        *,
        audit: Sequence[Callable[[AuditEvent], object]] = (),
        audit_log_size: int = 1000,
        metrics: otp.metrics.Metrics | None = None,
    ) -> None:
        given: object = name
        if not isinstance(given, str) or not given:
            msg = f"ToolBus: name must be a non-empty str (got {name!r})"
            raise ToolsDeclarationError(msg)
        hooks: Sequence[object] = audit
        for hook in hooks:
            if not callable(hook):
                msg = f"ToolBus: audit hooks must be callables (got {hook!r})"
                raise ToolsDeclarationError(msg)
        size: object = audit_log_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            msg = f"ToolBus: audit_log_size must be an int >= 0 (got {audit_log_size!r})"
            raise ToolsDeclarationError(msg)
        self.name = name
        self._tools: dict[str, Tool] = {}
        self._permissions = Permissions()
        self._hooks = tuple(audit)
        self._audit_log: collections.deque[AuditEvent] = collections.deque(maxlen=size)
        self._figures: dict[str, _Figures] = collections.defaultdict(_Figures)
        self._calls: otp.metrics.Counter | None = None
        self._seconds: otp.metrics.Histogram | None = None
        if metrics is not None:
            self._calls = metrics.counter(
                "otp_tools_calls_total", "Tool calls by outcome.", ["bus", "tool", "outcome"]
            )
            self._seconds = metrics.histogram(
                "otp_tools_call_seconds", "Time of the tool calls that ran.", ["bus", "tool"]
            )

    def __repr__(self) -> str:
        return f"<otp.tools.ToolBus {self.name!r} {len(self._tools)} tools>"

    # -- the registry --------------------------------------------------------------------

    def register(
        self,
        name: str,
        fn: Callable[..., Awaitable[object]],
        *,
        description: str,
        parameters: Mapping[str, object] | None = None,
        result: Mapping[str, object] | None = None,
        timeout: float = 30.0,
        breaker: otp.CircuitBreaker | None = None,
        replace: bool = False,
    ) -> Tool:
        """Register an async function as the tool ``name``; it is called ``fn(**arguments)``.

        ``parameters`` and ``result`` are JSON Schemas (checked now; ``parameters`` must
        describe an object, and defaults to any object); ``timeout`` is in seconds. A name
        already registered is refused unless ``replace=True``.

        Example::

            async def weather(city: str, unit: str = "C") -> dict:
                ...

            bus.register(
                "weather",
                weather,
                description="Current weather in a city.",
                parameters={
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "unit": {"enum": ["C", "F"]},
                    },
                    "required": ["city"],
                    "additionalProperties": False,
                },
                timeout=5,
            )
        """
        tool = Tool(
            name,
            fn,
            description=description,
            parameters=parameters,
            result=result,
            timeout=timeout,
            breaker=breaker,
        )
        if name in self._tools and not replace:
            msg = f"tool {name!r} is already registered; pass replace=True to replace it"
            raise ToolsDeclarationError(msg)
        self._tools[name] = tool
        return tool

    def register_server(
        self,
        name: str,
        server: otp.ServerRef[Any, Any] | Hashable,
        *,
        description: str,
        parameters: Mapping[str, object] | None = None,
        result: Mapping[str, object] | None = None,
        timeout: float = 30.0,
        breaker: otp.CircuitBreaker | None = None,
        request: Callable[[dict[str, Any]], object] | None = None,
        replace: bool = False,
    ) -> Tool:
        """Register a supervised server as a tool: an agent that other agents call.

        A call becomes ``server.call(request(arguments))`` (the arguments dict itself
        without ``request``). ``server`` is a ref or a registered name; a name follows the
        server across restarts. A server that is down makes the call
        :class:`ToolUnavailable`; one that crashes on it, :class:`ToolFailed`.

        Example::

            bus.register_server(
                "reviewer",
                "reviewer-1",
                description="Review a draft and return comments.",
                parameters={"type": "object", "properties": {"text": {"type": "string"}}},
            )
        """
        ref = server if isinstance(server, otp.ServerRef) else otp.named(server)
        shape = request

        async def call_server(**arguments: Any) -> object:  # noqa: ANN401
            message = arguments if shape is None else shape(arguments)
            return await ref.call(message, timeout=None)  # the bus keeps the time

        call_server.__name__ = f"server {ref!r}"
        return self.register(
            name,
            call_server,
            description=description,
            parameters=parameters,
            result=result,
            timeout=timeout,
            breaker=breaker,
            replace=replace,
        )

    def unregister(self, name: str) -> None:
        """Remove a tool; calls already running finish. Unknown names are ignored.

        Example::

            bus.unregister("legacy_search")
        """
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool:
        """The tool called ``name``; :class:`KeyError` if there is none."""
        return self._tools[name]

    def tools(self) -> list[Tool]:
        """Every registered tool, by name."""
        return [self._tools[name] for name in sorted(self._tools)]

    # -- permissions ---------------------------------------------------------------------

    def grant(self, agent: str, *patterns: str) -> None:
        """Allow ``agent`` the tools matching each pattern (a name, or a glob like ``fs.*``).

        Rules are kept in order and the last that matches a tool decides, so a grant after
        a revoke of the same tools allows them again.

        Example::

            bus.grant("researcher-1", "search", "fetch", "notes.*")
        """
        for pattern in _some(patterns, "grant"):
            self._permissions.grant(agent, pattern)

    def revoke(self, agent: str, *patterns: str) -> None:
        """Deny ``agent`` the tools matching each pattern, even those a broader grant allowed.

        Example::

            bus.grant("ops", "*")
            bus.revoke("ops", "db.drop*")
        """
        for pattern in _some(patterns, "revoke"):
            self._permissions.revoke(agent, pattern)

    def forget(self, agent: str) -> None:
        """Drop every rule of ``agent``: it may call nothing until granted again."""
        self._permissions.forget(agent)

    def allowed(self, agent: str, tool: str) -> bool:
        """Whether ``agent`` may call ``tool`` now.

        Example::

            assert bus.allowed("researcher-1", "search")
        """
        return self._permissions.allowed(agent, tool)

    def list_available_tools(self, agent: str) -> list[ToolInfo]:
        """The registered tools ``agent`` may call, by name, as :class:`ToolInfo`.

        Example::

            tools = [info.as_dict() for info in bus.list_available_tools("researcher-1")]
        """
        check_agent(agent)
        return [tool.info() for tool in self.tools() if self.allowed(agent, tool.name)]

    # -- calling -------------------------------------------------------------------------

    async def call(
        self,
        agent: str,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109  (it shortens the tool's own)
    ) -> Any:  # noqa: ANN401
        """Call ``tool`` for ``agent`` with ``arguments``; return its result.

        ``timeout`` may shorten the tool's own for this call. Every call is audited.

        Raises:
            UnknownTool: No such tool (the message suggests close names).
            PermissionDenied: ``agent`` was not granted it.
            InvalidArguments: The arguments break the parameter schema (each problem named).
            ToolTimedOut: It ran past its timeout and was cancelled.
            ToolUnavailable: Its breaker is open, or its server is down.
            ToolFailed: It raised (the cause).
            InvalidResult: Its result breaks the result schema.

        Example::

            found = await bus.call("researcher-1", "search", {"query": "trio nurseries"})
        """
        began = trio.current_time()
        entry = self._tools.get(tool)
        if entry is None:
            close = difflib.get_close_matches(tool, list(self._tools), n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            error: ToolCallError = UnknownTool(
                f"agent {agent!r} called unknown tool {tool!r}{hint}", agent, tool
            )
            raise self._failed(agent, tool, AuditOutcome.UNKNOWN_TOOL, began, error)
        if not self._permissions.allowed(agent, tool):
            error = PermissionDenied(
                f"agent {agent!r} may not call tool {tool!r}; grant it with "
                f"bus.grant({agent!r}, {tool!r})",
                agent,
                tool,
            )
            logger.warning("%s", error)
            raise self._failed(agent, tool, AuditOutcome.DENIED, began, error)
        given = {} if arguments is None else arguments
        found = problems(entry.parameters_validator, dict(given))
        if found:
            error = InvalidArguments(
                f"tool {tool!r} called by {agent!r} with invalid arguments: {'; '.join(found)}",
                agent,
                tool,
                found,
            )
            raise self._failed(agent, tool, AuditOutcome.INVALID_ARGUMENTS, began, error)
        seconds = entry.timeout if timeout is None else min(timeout, entry.timeout)
        try:
            result = await self._run(entry, dict(given), seconds)
        except trio.TooSlowError:
            error = ToolTimedOut(
                f"tool {tool!r} called by {agent!r} took over {seconds:g} s and was cancelled",
                agent,
                tool,
            )
            raise self._failed(agent, tool, AuditOutcome.TIMED_OUT, began, error) from None
        except (otp.CircuitOpen, otp.NoProc) as cause:
            error = ToolUnavailable(
                f"tool {tool!r} is unavailable to {agent!r}: {cause}", agent, tool
            )
            raise self._failed(agent, tool, AuditOutcome.UNAVAILABLE, began, error) from cause
        except trio.Cancelled:
            self._ended(agent, tool, AuditOutcome.CANCELLED, began, None)
            raise
        except Exception as cause:
            error = ToolFailed(
                f"tool {tool!r} called by {agent!r} failed: {type(cause).__name__}: {cause}",
                agent,
                tool,
            )
            raise self._failed(agent, tool, AuditOutcome.FAILED, began, error) from cause
        if entry.result_validator is not None:
            found = problems(entry.result_validator, result)
            if found:
                error = InvalidResult(
                    f"tool {tool!r} returned a result that breaks its schema: {'; '.join(found)}",
                    agent,
                    tool,
                    found,
                )
                raise self._failed(agent, tool, AuditOutcome.INVALID_RESULT, began, error)
        self._ended(agent, tool, AuditOutcome.OK, began, None)
        return result

    async def _run(self, tool: Tool, arguments: dict[str, Any], seconds: float) -> object:
        fn = tool.fn
        if tool.breaker is None:
            with trio.fail_after(seconds):
                return await fn(**arguments)

        async def attempt() -> object:
            # Inside the breaker, so that a timeout counts as the tool's failure.
            with trio.fail_after(seconds):
                return await fn(**arguments)

        return await tool.breaker.call(attempt)

    def _ended(
        self,
        agent: str,
        tool: str,
        outcome: AuditOutcome,
        began: float,
        error: ToolCallError | None,
    ) -> None:
        now = trio.current_time()
        took = now - began
        figures = self._figures[tool]
        figures.calls += 1
        ran = outcome is AuditOutcome.OK or outcome in _ERRORS
        if outcome is AuditOutcome.OK:
            figures.ok += 1
        elif outcome in _ERRORS:
            figures.errors += 1
        elif outcome is AuditOutcome.DENIED:
            figures.denied += 1
        if outcome is AuditOutcome.TIMED_OUT:
            figures.timed_out += 1
        if ran:
            figures.total += took
            figures.maximum = max(figures.maximum, took)
            if self._seconds is not None:
                self._seconds.observe(took, (self.name, tool))
        if self._calls is not None:
            self._calls.inc((self.name, tool, outcome.value))
        event = AuditEvent(now, agent, tool, outcome, took, None if error is None else str(error))
        self._audit_log.append(event)
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                logger.exception("tool bus %r: audit hook %r raised", self.name, hook)

    def _failed(
        self, agent: str, tool: str, outcome: AuditOutcome, began: float, error: ToolCallError
    ) -> ToolCallError:
        self._ended(agent, tool, outcome, began, error)
        return error

    # -- looking inside ------------------------------------------------------------------

    @property
    def audit_log(self) -> tuple[AuditEvent, ...]:
        """The newest audit events, oldest first."""
        return tuple(self._audit_log)

    def statistics(self) -> dict[str, ToolStatistics]:
        """Each called tool's figures, by name.

        Example::

            for name, stats in bus.statistics().items():
                print(name, stats.calls, stats.errors)
        """
        return {
            name: ToolStatistics(f.calls, f.ok, f.errors, f.denied, f.timed_out, f.total, f.maximum)
            for name, f in sorted(self._figures.items())
        }
