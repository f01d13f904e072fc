"""The tool bus: tools and agents that call them, with permissions, timeouts and audits.

A :class:`ToolBus` holds tools (async functions, or supervised servers: agents as tools),
each with a JSON Schema for its parameters and result, a timeout and an optional circuit
breaker. Agents are names granted tools by pattern; every call is checked, run, and
audited. An :class:`AgentTeam` spawns agents from :class:`Role` templates under per-role
dynamic supervisors, granting each its role's tools. JSON Schema validation needs the
``otp[tools]`` extra (``jsonschema``).

The path of a call, by module: ``_bus`` finds the :class:`Tool` (``_tool``), asks
``_permissions`` (pure) whether the agent may call it, validates the arguments
(``_schema``), runs it and records the :class:`AuditEvent`; ``_team`` starts agents.

Example::

    bus = otp.tools.ToolBus()
    bus.register("search", search, description="Search the web.", parameters=schema)
    team = otp.tools.AgentTeam(bus, [otp.tools.Role("researcher", Researcher, tools=["search"])])
    async with otp.open_supervisor([team.child_spec()]):
        ref = await team.spawn("researcher")
"""

from ._bus import AuditEvent as AuditEvent
from ._bus import AuditOutcome as AuditOutcome
from ._bus import ToolBus as ToolBus
from ._bus import ToolStatistics as ToolStatistics
from ._errors import InvalidArguments as InvalidArguments
from ._errors import InvalidResult as InvalidResult
from ._errors import PermissionDenied as PermissionDenied
from ._errors import RoleLimitReached as RoleLimitReached
from ._errors import ToolCallError as ToolCallError
from ._errors import ToolFailed as ToolFailed
from ._errors import ToolsDeclarationError as ToolsDeclarationError
from ._errors import ToolsError as ToolsError
from ._errors import ToolTimedOut as ToolTimedOut
from ._errors import ToolUnavailable as ToolUnavailable
from ._errors import UnknownRole as UnknownRole
from ._errors import UnknownTool as UnknownTool
from ._team import AgentContext as AgentContext
from ._team import AgentTeam as AgentTeam
from ._team import Role as Role
from ._tool import Tool as Tool
from ._tool import ToolInfo as ToolInfo

__all__ = [
    "AgentContext",
    "AgentTeam",
    "AuditEvent",
    "AuditOutcome",
    "InvalidArguments",
    "InvalidResult",
    "PermissionDenied",
    "Role",
    "RoleLimitReached",
    "Tool",
    "ToolBus",
    "ToolCallError",
    "ToolFailed",
    "ToolInfo",
    "ToolStatistics",
    "ToolTimedOut",
    "ToolUnavailable",
    "ToolsDeclarationError",
    "ToolsError",
    "UnknownRole",
    "UnknownTool",
]
