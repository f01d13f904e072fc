"""The schema side of loading: what a key's type is, and structuring that checks types strictly.

A schema is a user's attrs class. Its attrs-class fields are *sections* (tables in TOML),
``dict[str, X]`` fields are *maps* with free keys, and everything else is a *leaf* value.
The converter refuses the lenient conversions cattrs makes by default (``"10"`` or ``3.5``
for an ``int``, ``1`` for a ``str``): a configuration value must already have its type.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import re
import tomllib
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

__all__ = ["KeyPath", "Kind", "converter", "fields_of", "kind_of", "map_value_type", "parse_env"]

KeyPath = tuple[str | int, ...]


class Kind(enum.Enum):
    SECTION = "section"
    MAP = "map"
    LEAF = "leaf"


class Invalid(ValueError):
    """A value has the wrong type or form; the message says what was expected and got."""


def got(value: object) -> str:
    if isinstance(value, str | int | float | bool | type(None)):
        return repr(value)
    return f"{value!r} (a {type(value).__name__})"


def _without_none(tp: Any) -> Any:  # noqa: ANN401
    """``X`` for ``X | None``; otherwise ``tp``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def kind_of(tp: Any) -> Kind:  # noqa: ANN401
    if isinstance(tp, type) and attrs.has(tp):
        return Kind.SECTION
    origin = typing.get_origin(tp)
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        args = typing.get_args(tp)
        if args and args[0] is str:
            return Kind.MAP
    return Kind.LEAF


def map_value_type(tp: Any) -> Any:  # noqa: ANN401
    return typing.get_args(tp)[1]


@functools.cache
def fields_of(cls: type) -> dict[str, Any]:
    """A section's keys and their resolved types."""
    if any(isinstance(field.type, str) for field in attrs.fields(cls)):
        attrs.resolve_types(cls)  # string annotations (``from __future__ import annotations``)
    return {field.name: field.type for field in attrs.fields(cls)}


def is_sequence(tp: Any) -> bool:  # noqa: ANN401
    origin = typing.get_origin(_without_none(tp))
    return origin in (
        list,
        tuple,
        set,
        frozenset,
        collections.abc.Sequence,
        collections.abc.Set,
        collections.abc.MutableSequence,
    )


# --- environment values -----------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_INT = re.compile(r"[+-]?\d[\d_]*")


def parse_env(text: str, tp: Any) -> object:  # noqa: ANN401
    """Read an environment variable's text as a value of type ``tp``.

    Strings stay as they are; ``int``, ``float`` and ``bool`` are read from their usual
    spellings; anything else (lists, tables) is read as a TOML value.
    """
    tp = _without_none(tp)
    if tp is str or tp is Any:
        return text
    if tp is bool:
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        msg = f"expected bool (true/false, 1/0, yes/no, on/off), got {text!r}"
        raise Invalid(msg)
    if tp is int:
        if _INT.fullmatch(text.strip()):
            return int(text)
        msg = f"expected int, got {text!r}"
        raise Invalid(msg)
    if tp is float:
        try:
            return float(text)
        except ValueError:
            msg = f"expected float, got {text!r}"
            raise Invalid(msg) from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if issubclass(tp, int) and _INT.fullmatch(text.strip()):
            return int(text)
        return text
    if typing.get_origin(tp) is Literal:
        for choice in typing.get_args(tp):
            if str(choice) == text:
                return choice
        return text  # the converter names the choices
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        msg = f"expected a TOML value such as [1, 2] or {{ key = 1 }}, got {text!r}"
        raise Invalid(msg) from None


# --- the strict converter ---------------------------------------------------------------------


def _strict(name: str, accepts: Callable[[object], bool], cast: Callable[[Any], Any]) -> Any:  # noqa: ANN401
    def structure(value: object, tp: object) -> object:
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _structure_enum(value, tp)  # a str or int enum is dispatched here first
        if not accepts(value):
            msg = f"expected {name}, got {got(value)}"
            raise Invalid(msg)
        return cast(value)

    return structure


def _structure_enum(value: object, cls: type[enum.Enum]) -> enum.Enum:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in cls)
        msg = f"expected one of {choices}, got {got(value)}"
        raise Invalid(msg) from None


def _structure_literal(value: object, tp: Any) -> object:  # noqa: ANN401
    choices = typing.get_args(tp)
    for choice in choices:
        if value == choice and type(value) is type(choice):
            return choice
    msg = f"expected one of {', '.join(repr(choice) for choice in choices)}, got {got(value)}"
    raise Invalid(msg)


def _is_literal(tp: object) -> bool:
    origin: object = typing.get_origin(tp)
    return origin is Literal


def _make_converter() -> cattrs.Converter:
    made = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for exact, name, accepts in (
        (int, "int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        (float, "float", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
        (str, "str", lambda v: isinstance(v, str)),
        (bool, "bool", lambda v: isinstance(v, bool)),
    ):
        made.register_structure_hook(exact, _strict(name, accepts, exact))
    made.register_structure_hook(enum.Enum, _structure_enum)
    made.register_structure_hook_func(_is_literal, _structure_literal)
    return made


converter = _make_converter()
"""The strict converter every configuration is structured with."""


def collect(exc: BaseException, path: KeyPath, out: list[tuple[KeyPath, str]]) -> None:
    """Flatten cattrs' validation errors into (key path, problem) pairs."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            collect(sub, (*path, note.name), out)
        for sub in without:
            collect(sub, path, out)
    elif isinstance(exc, IterableValidationError):
        items, rest = exc.group_exceptions()
        for sub, item in items:
            collect(sub, (*path, item.index), out)
        for sub in rest:
            collect(sub, path, out)
    elif isinstance(exc, ForbiddenExtraKeysError):
        out.extend(((*path, str(key)), "unknown key") for key in sorted(exc.extra_fields))
    elif isinstance(exc, Invalid):
        out.append((path, str(exc)))
    elif isinstance(exc, KeyError):  # generated structure code reads a required key
        out.append((path, "missing: it has no default and no layer sets it"))
    else:
        out.append((path, f"invalid value ({type(exc).__name__}: {exc})"))


def dotted(path: KeyPath) -> str:
    """``("db", "pool_size")`` as ``"db.pool_size"``; list indexes as ``hosts[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"
