"""The errors of ``otp.tools``."""

from __future__ import annotations

from otp import OtpError
from otp._taxonomy import BASE, CALL, DECLARATION, MISUSE, OVERLOAD, classify


@classify(BASE)
class ToolsError(OtpError):
    """The base class of every ``otp.tools`` error.

    Example::

        try:
            await bus.call("researcher-1", "search", {"query": "trio"})
        except otp.tools.ToolsError as exc:
            log.warning("tool call failed: %s", exc)
    """


@classify(DECLARATION)
class ToolsDeclarationError(ToolsError, ValueError):
    """A tool, a schema, a role or a permission was declared with a wrong value.

    Example::

        with pytest.raises(otp.tools.ToolsDeclarationError, match="parameters"):
            bus.register("search", search, parameters={"type": "strng"})
    """


@classify(CALL)
class ToolCallError(ToolsError):
    """A tool call did not return a result; ``agent`` and ``tool`` say whose and which.

    The bus and the tool are unaffected; the caller decides (retry, fall back, give up).

    Example::

        try:
            await bus.call(agent, "search", arguments)
        except otp.tools.ToolCallError as exc:
            print(exc.agent, exc.tool)
    """

    def __init__(self, message: str, agent: str, tool: str) -> None:
        super().__init__(message)
        self.agent = agent
        self.tool = tool


@classify(CALL)
class UnknownTool(ToolCallError):
    """No tool of that name is registered (the message suggests close names).

    Example::

        with pytest.raises(otp.tools.UnknownTool, match="did you mean 'search'"):
            await bus.call(agent, "serch", {})
    """


@classify(CALL)
class PermissionDenied(ToolCallError):
    """The agent has not been granted the tool; an audit event records the attempt.

    Example::

        with pytest.raises(otp.tools.PermissionDenied):
            await bus.call("intern", "delete_database", {})
    """


@classify(CALL)
class InvalidArguments(ToolCallError):
    """The arguments do not match the tool's parameter schema; ``problems`` lists each one.

    Each problem names the parameter, as ``"limit: 'ten' is not of type 'integer'"``.

    Example::

        try:
            await bus.call(agent, "search", {"limit": "ten"})
        except otp.tools.InvalidArguments as exc:
            print(exc.problems)
    """

    def __init__(self, message: str, agent: str, tool: str, problems: list[str]) -> None:
        super().__init__(message, agent, tool)
        self.problems = problems


@classify(CALL)
class ToolTimedOut(ToolCallError):
    """The tool ran past its timeout and was cancelled.

    Example::

        with pytest.raises(otp.tools.ToolTimedOut):
            await bus.call(agent, "slow_search", {"query": "x"}, timeout=0.5)
    """


@classify(CALL)
class ToolFailed(ToolCallError):
    """The tool raised; the cause is its error.

    Example::

        try:
            await bus.call(agent, "fetch", {"url": url})
        except otp.tools.ToolFailed as exc:
            log.warning("fetch failed: %r", exc.__cause__)
    """


@classify(CALL)
class ToolUnavailable(ToolCallError):
    """The tool could not be called: its circuit breaker is open, or its server is down.

    Example::

        try:
            await bus.call(agent, "reviewer", {"text": draft})
        except otp.tools.ToolUnavailable:
            return draft  # no review this time
    """


@classify(CALL)
class InvalidResult(ToolCallError):
    """The tool returned a result that does not match its result schema (a tool bug).

    Example::

        except otp.tools.InvalidResult as exc:
            print(exc.problems)
    """

    def __init__(self, message: str, agent: str, tool: str, problems: list[str]) -> None:
        super().__init__(message, agent, tool)
        self.problems = problems


@classify(MISUSE)
class UnknownRole(ToolsError):
    """An agent was spawned from a role the team does not have.

    Example::

        with pytest.raises(otp.tools.UnknownRole):
            await team.spawn("astronaut")
    """


@classify(OVERLOAD)
class RoleLimitReached(ToolsError):
    """The role already runs its ``max_agents`` agents; no agent was started.

    Example::

        try:
            await team.spawn("researcher")
        except otp.tools.RoleLimitReached:
            await queue_for_later(task)
    """
