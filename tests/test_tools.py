"""otp.tools: the registry, permissions, validation, timeouts, breakers, audits and teams."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import otp
import otp.metrics
import otp.testing
import otp.tools
from otp.tools import AgentTeam, AuditOutcome, Role, ToolBus

SEARCH = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "limit": {"type": "integer", "minimum": 1, "default": 3},
    },
    "required": ["query"],
    "additionalProperties": False,
}
HITS = {"type": "array", "items": {"type": "string"}}


async def search(query: str, limit: int = 3) -> list[str]:
    await trio.sleep(0.01)
    if query == "bad result":
        return [1, 2]  # type: ignore[list-item]
    if query == "explode":
        raise ConnectionError("search backend down")
    if query == "hang":
        await trio.sleep_forever()
    return [f"{query} #{n}" for n in range(1, limit + 1)]


def make_bus(**options: Any) -> ToolBus:
    bus = ToolBus(**options)
    bus.register("search", search, description="Search.", parameters=SEARCH, result=HITS, timeout=5)
    return bus


# --- declarations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"name": "1st"}, "name must start with a letter"),
        ({"fn": print}, "fn must be an async function taking the arguments"),
        ({"description": " "}, "description must be a non-empty str"),
        ({"timeout": 0}, "timeout must be a finite number of seconds > 0"),
        ({"parameters": {"type": "strng"}}, "parameters is not a valid JSON Schema at type"),
        ({"parameters": {"type": "array"}}, "parameters must be an object schema"),
        ({"parameters": [1]}, r"parameters must be a JSON Schema \(a dict\)"),
        ({"result": {"minimum": "zero"}}, "result is not a valid JSON Schema at minimum"),
        ({"breaker": 3}, "breaker must be an otp.CircuitBreaker or None"),
    ],
)
def test_a_bad_tool_fails_at_registration_naming_the_field(
    options: dict[str, Any], match: str
) -> None:
    arguments: dict[str, Any] = {"name": "t", "fn": search, "description": "d", **options}
    with pytest.raises(otp.tools.ToolsDeclarationError, match=match):
        ToolBus().register(arguments.pop("name"), arguments.pop("fn"), **arguments)


def test_a_name_is_registered_once_unless_replaced() -> None:
    bus = make_bus()
    with pytest.raises(otp.tools.ToolsDeclarationError, match="already registered; pass replace"):
        bus.register("search", search, description="again")
    bus.register("search", search, description="again", replace=True)
    assert bus.get("search").description == "again"
    bus.unregister("search")
    assert bus.tools() == []


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda b: b.grant("a"), "give at least one tool name or pattern"),
        (lambda b: b.grant("a", "bad pattern!"), "a tool pattern must be a tool name or a glob"),
        (lambda b: b.grant("", "*"), "an agent is named by a non-empty str"),
        (lambda b: Role("r", print, tools="search"), "tools must be a list"),
        (lambda b: Role("r", print, max_agents=0), "max_agents must be an int >= 1"),
        (lambda b: Role("r", print, restart="always"), "restart must be one of"),
        (lambda b: AgentTeam(b, []), "roles must be a non-empty list"),
        (lambda b: AgentTeam(b, [Role("r", print), Role("r", print)]), "distinct"),
        (lambda b: AgentTeam(None, [Role("r", print)]), "bus must be an otp.tools.ToolBus"),
        (lambda b: ToolBus(audit=[5]), "audit hooks must be callables"),
    ],
)
def test_bad_permissions_roles_and_teams_fail_clearly(make: Any, match: str) -> None:
    with pytest.raises(otp.tools.ToolsDeclarationError, match=match):
        make(ToolBus())


# --- permissions --------------------------------------------------------------------------------


def test_the_last_matching_rule_decides() -> None:
    bus = ToolBus()
    for name in ("search", "fs.read", "fs.write", "fs.delete"):
        bus.register(name, search, description=name)
    bus.grant("ops", "*")
    bus.revoke("ops", "fs.*")
    bus.grant("ops", "fs.read")
    assert [t.name for t in bus.list_available_tools("ops")] == ["fs.read", "search"]
    assert bus.list_available_tools("nobody") == []
    bus.forget("ops")
    assert not bus.allowed("ops", "search")
    info = bus.get("search").info().as_dict()
    assert info == {"name": "search", "description": "search", "parameters": {"type": "object"}}


# --- calls --------------------------------------------------------------------------------------


async def test_a_permitted_call_with_valid_arguments_returns_and_is_audited() -> None:
    heard: list[otp.tools.AuditEvent] = []
    bus = make_bus(audit=[heard.append])
    bus.grant("ada", "search")
    assert await bus.call("ada", "search", {"query": "trio", "limit": 2}) == ["trio #1", "trio #2"]
    [event] = heard
    assert (event.agent, event.tool, event.outcome, event.error) == ("ada", "search", "ok", None)
    assert event.duration == pytest.approx(0.01)
    assert bus.audit_log == (event,)


async def test_a_call_without_permission_fails_and_is_audited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = make_bus()
    with pytest.raises(otp.tools.PermissionDenied, match=r"bus.grant\('eve', 'search'\)") as e:
        await bus.call("eve", "search", {"query": "secrets"})
    assert (e.value.agent, e.value.tool) == ("eve", "search")
    assert bus.audit_log[-1].outcome is AuditOutcome.DENIED
    assert "agent 'eve' may not call tool 'search'" in caplog.text
    assert bus.statistics()["search"].denied == 1


async def test_an_unknown_tool_is_named_with_close_matches() -> None:
    bus = make_bus()
    with pytest.raises(otp.tools.UnknownTool, match=r"unknown tool 'serch'; did you mean 'search'"):
        await bus.call("ada", "serch", {})
    assert bus.audit_log[-1].outcome is AuditOutcome.UNKNOWN_TOOL


async def test_invalid_arguments_name_every_parameter_at_fault() -> None:
    bus = make_bus()
    bus.grant("ada", "*")
    with pytest.raises(otp.tools.InvalidArguments) as failed:
        await bus.call("ada", "search", {"limit": "ten", "lang": "en"})
    assert failed.value.problems == [
        "'query' is a required property",
        "Additional properties are not allowed ('lang' was unexpected)",
        "limit: 'ten' is not of type 'integer'",
    ]
    assert "with invalid arguments: 'query' is a required property; Add" in str(failed.value)
    with pytest.raises(otp.tools.InvalidArguments, match="query: '' should be non-empty"):
        await bus.call("ada", "search", {"query": ""})


async def test_a_tool_that_hangs_times_out_and_the_bus_goes_on() -> None:
    bus = make_bus()
    bus.grant("ada", "search")
    start = trio.current_time()
    with pytest.raises(otp.tools.ToolTimedOut, match="took over 5 s and was cancelled"):
        await bus.call("ada", "search", {"query": "hang"})
    assert trio.current_time() - start == pytest.approx(5)
    with pytest.raises(otp.tools.ToolTimedOut, match="took over 1 s"):
        await bus.call("ada", "search", {"query": "hang"}, timeout=1)
    assert await bus.call("ada", "search", {"query": "ok", "limit": 1}) == ["ok #1"]
    stats = bus.statistics()["search"]
    assert (stats.calls, stats.ok, stats.errors, stats.timed_out) == (3, 1, 2, 2)


async def test_failures_and_bad_results_are_reported_with_their_cause() -> None:
    bus = make_bus()
    bus.grant("ada", "search")
    with pytest.raises(otp.tools.ToolFailed, match="ConnectionError: search backend down") as e:
        await bus.call("ada", "search", {"query": "explode"})
    assert isinstance(e.value.__cause__, ConnectionError)
    with pytest.raises(otp.tools.InvalidResult, match="0: 1 is not of type 'string'"):
        await bus.call("ada", "search", {"query": "bad result"})
    outcomes = [event.outcome.value for event in bus.audit_log]
    assert outcomes == ["failed", "invalid_result"]


async def test_a_breaker_cuts_off_a_failing_tool_and_counts_its_timeouts() -> None:
    breaker = otp.CircuitBreaker("search", otp.BreakerConfig(failure_threshold=2))
    bus = ToolBus()
    bus.register("search", search, description="s", timeout=1, breaker=breaker)
    bus.grant("ada", "search")
    with pytest.raises(otp.tools.ToolFailed):
        await bus.call("ada", "search", {"query": "explode"})
    with pytest.raises(otp.tools.ToolTimedOut):
        await bus.call("ada", "search", {"query": "hang"})
    with pytest.raises(otp.tools.ToolUnavailable, match="is unavailable to 'ada'"):
        await bus.call("ada", "search", {"query": "fine"})
    assert bus.audit_log[-1].outcome is AuditOutcome.UNAVAILABLE


async def test_a_cancelled_call_is_audited_as_cancelled() -> None:
    bus = make_bus()
    bus.grant("ada", "search")
    with trio.move_on_after(0.5):
        await bus.call("ada", "search", {"query": "hang"})
    assert bus.audit_log[-1].outcome is AuditOutcome.CANCELLED


async def test_an_audit_hook_that_raises_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: otp.tools.AuditEvent) -> None:
        raise RuntimeError("audit sink down")

    bus = make_bus(audit=[broken])
    bus.grant("ada", "search")
    assert await bus.call("ada", "search", {"query": "x", "limit": 1}) == ["x #1"]
    assert "audit hook" in caplog.text


async def test_metrics_count_calls_by_tool_and_outcome() -> None:
    metrics = otp.metrics.Metrics()
    bus = make_bus(metrics=metrics)
    bus.grant("ada", "search")
    await bus.call("ada", "search", {"query": "x"})
    with pytest.raises(otp.tools.PermissionDenied):
        await bus.call("bob", "search", {"query": "x"})
    names = {metric.name for metric in metrics.collect()}
    assert {"otp_tools_calls_total", "otp_tools_call_seconds"} <= names
    [calls] = [m for m in metrics.collect() if m.name == "otp_tools_calls_total"]
    assert calls.values[("tools", "search", "ok")] == 1  # type: ignore[attr-defined]
    assert calls.values[("tools", "search", "denied")] == 1  # type: ignore[attr-defined]


# --- servers as tools, and teams ----------------------------------------------------------------


class Reviewer(otp.GenServer[Any, Any]):
    async def init(self, context: otp.tools.AgentContext) -> None:
        self.context = context

    async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
        if request.get("text") == "crash":
            raise RuntimeError("reviewer bug")
        hits = await self.context.call_tool("search", {"query": request["text"], "limit": 1})
        return f"{self.context.name} reviewed {request['text']!r} with {hits[0]!r}"


REVIEW = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


async def test_agents_spawn_from_roles_with_their_tools_and_call_each_other() -> None:
    bus = make_bus()
    roles = [
        Role("reviewer", Reviewer, tools=["search"], max_agents=1),
        Role("writer", Reviewer, tools=["review"]),
    ]
    team = AgentTeam(bus, roles)
    async with otp.open_supervisor([team.child_spec()], intensity=10):
        reviewer = await team.spawn("reviewer")
        assert reviewer.name == "reviewer-1"
        bus.register_server("review", "reviewer-1", description="Review.", parameters=REVIEW)
        writer = await team.spawn("writer", name="wanda")
        assert [t.name for t in bus.list_available_tools("wanda")] == ["review"]
        # the writer may call the reviewer (a tool), not search itself
        result = await bus.call("wanda", "review", {"text": "draft"})
        assert result == "reviewer-1 reviewed 'draft' with 'draft #1'"
        with pytest.raises(otp.tools.PermissionDenied):
            await bus.call("wanda", "search", {"query": "x"})
        with pytest.raises(otp.tools.ToolFailed, match="ServerExited"):
            await bus.call("wanda", "review", {"text": "crash"})
        await trio.sleep(0.1)  # restarted under its name
        assert (await bus.call("wanda", "review", {"text": "again"})).startswith("reviewer-1")
        with pytest.raises(otp.tools.RoleLimitReached, match="already runs its 1 agents"):
            await team.spawn("reviewer")
        assert team.agents() == ["reviewer-1", "wanda"]
        await team.stop("reviewer-1")
        assert not bus.allowed("reviewer-1", "search")
        with pytest.raises(otp.tools.ToolUnavailable, match="is unavailable"):
            await bus.call("wanda", "review", {"text": "anyone?"})
        await team.spawn("reviewer")  # room again
        assert writer.name == "wanda"
    assert not bus.allowed("wanda", "review")  # the team's stop took every grant back


async def test_function_roles_unknown_roles_failed_starts_and_a_stopped_team() -> None:
    bus = make_bus()

    async def watcher(context: otp.tools.AgentContext, *, task_status: Any) -> None:
        task_status.started(context.name)
        await trio.sleep_forever()

    async def broken(context: otp.tools.AgentContext, *, task_status: Any) -> None:
        raise OSError("no model")

    team = AgentTeam(bus, [Role("watcher", watcher, tools=["*"]), Role("broken", broken)])
    with pytest.raises(otp.tools.ToolsError, match="not running"):
        await team.spawn("watcher")
    async with otp.open_supervisor([team.child_spec()]):
        assert await team.spawn("watcher") == "watcher-1"
        assert bus.allowed("watcher-1", "search")
        with pytest.raises(otp.tools.UnknownRole, match=r"no role 'pilot' \(roles: \['broken'"):
            await team.spawn("pilot")
        with pytest.raises(otp.StartError):
            await team.spawn("broken", name="b")
        assert team.agents() == ["watcher-1"]
        with pytest.raises(otp.tools.ToolsDeclarationError, match="already runs an agent"):
            await team.spawn("watcher", name="watcher-1")


def test_errors_belong_to_their_families() -> None:
    assert otp.error_family(otp.tools.PermissionDenied).name == "call"
    assert otp.error_family(otp.tools.RoleLimitReached).name == "overload"
    assert otp.error_family(otp.tools.ToolsDeclarationError).name == "declaration"


async def test_faults_aimed_at_a_role_reach_its_agents_and_they_heal() -> None:
    plan = otp.testing.FaultPlan(
        (
            otp.testing.Fault(1.0, "crash", "reviewer/reviewer"),
            otp.testing.Fault(2.0, "slow", "reviewer/reviewer", delay=3.0, duration=1.0),
            otp.testing.Fault(5.0, "hang", "reviewer/reviewer"),
        )
    )
    injector = otp.testing.FaultInjector(plan)
    bus = make_bus()
    bus.register_server("review", "reviewer-1", description="Review.", timeout=2)
    bus.grant("writer", "review")
    role = Role("reviewer", Reviewer, tools=["search"], liveness=otp.Heartbeat(interval=1.0))
    team = AgentTeam(bus, [role], instrument=injector.instrument, intensity=10)
    outcomes: list[str] = []
    async with otp.open_supervisor([team.child_spec()], intensity=10), trio.open_nursery() as n:
        await team.spawn("reviewer")
        await n.start(injector.run)
        for _ in range(12):
            try:
                await bus.call("writer", "review", {"text": "t"})
                outcomes.append("ok")
            except otp.tools.ToolCallError as error:
                outcomes.append(type(error).__name__)
            await trio.sleep(0.5)
    assert all(record.applied for record in injector.records)
    assert "ToolTimedOut" in outcomes  # slowed, then hung: the bus's timeout answers
    assert outcomes[-1] == "ok"  # restarted after the hang (liveness), under its name
    assert outcomes[0] == "ok"


def test_a_bad_role_liveness_fails_clearly() -> None:
    with pytest.raises(
        otp.tools.ToolsDeclarationError, match=r"liveness must be an otp\.Heartbeat"
    ):
        Role("r", Reviewer, liveness=1.0)  # type: ignore[arg-type]
