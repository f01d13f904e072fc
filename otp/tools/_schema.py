"""JSON Schema, through the ``jsonschema`` library (the ``otp[tools]`` extra)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ._errors import ToolsDeclarationError

__all__ = ["Validator", "compile_schema", "problems"]


class Validator(Protocol):
    def iter_errors(self, instance: object) -> Any: ...  # noqa: ANN401


def _jsonschema() -> Any:  # noqa: ANN401
    try:
        import jsonschema  # noqa: PLC0415  (an optional dependency, needed only here)
    except ImportError:  # pragma: no cover - the extra is installed in development
        msg = "otp.tools needs the jsonschema library: pip install 'otp[tools]'"
        raise ImportError(msg) from None
    return jsonschema


def compile_schema(owner: str, field: str, schema: object) -> Validator:
    """A validator for ``schema`` (by its ``$schema``, else Draft 2020-12), or an error."""
    if not isinstance(schema, Mapping):
        msg = f"{owner}: {field} must be a JSON Schema (a dict) (got {schema!r})"
        raise ToolsDeclarationError(msg)
    jsonschema = _jsonschema()
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        msg = f"{owner}: {field} is not a valid JSON Schema at {where}: {error.message}"
        raise ToolsDeclarationError(msg) from None
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def problems(validator: Validator, instance: object) -> list[str]:
    """Every way ``instance`` breaks the schema, each naming its parameter's path."""
    found: list[tuple[str, str]] = []
    for error in validator.iter_errors(instance):
        path = ".".join(str(p) for p in error.absolute_path)
        found.append((path, f"{path}: {error.message}" if path else error.message))
    return [message for _, message in sorted(found)]
