"""A tool: a named async function with a parameter schema, a result schema and a timeout."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import final

import attrs

import otp
from otp._callables import is_async_callable

from ._errors import ToolsDeclarationError
from ._schema import Validator, compile_schema

__all__ = ["Tool", "ToolInfo"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
NO_PARAMETERS: Mapping[str, object] = {"type": "object"}


@final
@attrs.frozen
class ToolInfo:
    """What an agent (or the model behind it) is told about a tool.

    Example::

        for info in bus.list_available_tools("researcher-1"):
            print(info.as_dict())  # {"name": ..., "description": ..., "parameters": {...}}
    """

    name: str
    description: str
    parameters: Mapping[str, object]

    def as_dict(self) -> dict[str, object]:
        """The usual shape of a tool declaration for a language model's API."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@final
@attrs.frozen(init=False)
class Tool:
    """A registered tool (see :meth:`ToolBus.register`); checked when it is made.

    ``fn`` is called as ``await fn(**arguments)`` once the arguments match ``parameters``.

    Example::

        tool = bus.register(
            "search",
            search,
            description="Search the web.",
            parameters={
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        )
        print(tool.info())
    """

    name: str
    fn: Callable[..., Awaitable[object]] = attrs.field(repr=False)
    description: str
    parameters: Mapping[str, object] = attrs.field(repr=False)
    result: Mapping[str, object] | None = attrs.field(repr=False)
    timeout: float
    breaker: otp.CircuitBreaker | None = attrs.field(repr=False)
    parameters_validator: Validator = attrs.field(repr=False, eq=False)
    result_validator: Validator | None = attrs.field(repr=False, eq=False)

    def __init__(
        self,
        name: str,
        fn: Callable[..., Awaitable[object]],
        *,
        description: str,
        parameters: Mapping[str, object] | None = None,
        result: Mapping[str, object] | None = None,
        timeout: float = 30.0,
        breaker: otp.CircuitBreaker | None = None,
    ) -> None:
        given: object = name
        if not isinstance(given, str) or not _NAME.match(given):
            msg = (
                "Tool: name must start with a letter and hold letters, digits, '_', '.' or "
                f"'-' (got {name!r})"
            )
            raise ToolsDeclarationError(msg)
        owner = f"tool {name!r}"
        function: object = fn
        if not callable(function) or not is_async_callable(function):
            msg = f"{owner}: fn must be an async function taking the arguments (got {fn!r})"
            raise ToolsDeclarationError(msg)
        text: object = description
        if not isinstance(text, str) or not text.strip():
            msg = f"{owner}: description must be a non-empty str; models choose tools by it"
            raise ToolsDeclarationError(msg)
        seconds: object = timeout
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not seconds > 0
            or math.isinf(seconds)
        ):
            msg = f"{owner}: timeout must be a finite number of seconds > 0 (got {timeout!r})"
            raise ToolsDeclarationError(msg)
        guard: object = breaker
        if guard is not None and not isinstance(guard, otp.CircuitBreaker):
            msg = f"{owner}: breaker must be an otp.CircuitBreaker or None (got {breaker!r})"
            raise ToolsDeclarationError(msg)
        schema = NO_PARAMETERS if parameters is None else parameters
        checker = compile_schema(owner, "parameters", schema)
        if schema.get("type") != "object":
            msg = f"{owner}: parameters must be an object schema ({{'type': 'object', ...}})"
            raise ToolsDeclarationError(msg)
        result_checker = None if result is None else compile_schema(owner, "result", result)
        self.__attrs_init__(
            name,
            fn,
            description,
            schema,
            result,
            float(timeout),
            breaker,
            checker,
            result_checker,
        )

    def info(self) -> ToolInfo:
        """Its name, description and parameter schema.

        Example::

            print(bus.get("search").info().as_dict())
        """
        return ToolInfo(self.name, self.description, self.parameters)
