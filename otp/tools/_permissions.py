"""Pure: which agent may call which tool, as ordered grant and revoke rules."""

from __future__ import annotations

import fnmatch
import re
from typing import final

from ._errors import ToolsDeclarationError

__all__ = ["Permissions"]

_PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


def check_pattern(pattern: object) -> str:
    if not isinstance(pattern, str) or not _PATTERN.match(pattern):
        msg = (
            "a tool pattern must be a tool name or a glob such as 'search.*' or '*' "
            f"(got {pattern!r})"
        )
        raise ToolsDeclarationError(msg)
    return pattern


def check_agent(agent: object) -> str:
    if not isinstance(agent, str) or not agent:
        msg = f"an agent is named by a non-empty str (got {agent!r})"
        raise ToolsDeclarationError(msg)
    return agent


@final
class Permissions:
    """Per agent, a list of rules ``(allowed, pattern)``; the last rule that matches wins.

    So ``grant("*")`` then ``revoke("shell.*")`` allows everything but the shell tools, and
    a later ``grant("shell.ls")`` allows that one back.

    Example::

        >>> rules = Permissions()
        >>> rules.grant("a", "*"); rules.revoke("a", "shell.*")
        >>> rules.allowed("a", "search"), rules.allowed("a", "shell.rm")
        (True, False)
    """

    __slots__ = ("_rules",)

    def __init__(self) -> None:
        self._rules: dict[str, list[tuple[bool, str]]] = {}

    def _add(self, agent: str, pattern: str, *, allowed: bool) -> None:
        rules = self._rules.setdefault(check_agent(agent), [])
        check_pattern(pattern)
        rules[:] = [rule for rule in rules if rule[1] != pattern]  # the newest rule counts
        rules.append((allowed, pattern))

    def grant(self, agent: str, pattern: str) -> None:
        self._add(agent, pattern, allowed=True)

    def revoke(self, agent: str, pattern: str) -> None:
        self._add(agent, pattern, allowed=False)

    def forget(self, agent: str) -> None:
        self._rules.pop(agent, None)

    def allowed(self, agent: str, tool: str) -> bool:
        for allowed, pattern in reversed(self._rules.get(agent, ())):
            if fnmatch.fnmatchcase(tool, pattern):
                return allowed
        return False

    def rules(self, agent: str) -> list[tuple[bool, str]]:
        return list(self._rules.get(agent, ()))
