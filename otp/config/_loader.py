"""Loading: merge the layers key by key, remember who set each key, structure strictly.

Precedence, lowest first: the schema's defaults, the TOML file, environment variables under
the prefix, explicit overrides. Sections and maps merge key by key; any other value (lists
included) is replaced whole by a higher layer. Every problem from every layer is collected
before anything is raised, each line naming its key and the layer that set it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar, cast, final

import attrs

from ._errors import ConfigError
from ._origin import DEFAULT_ORIGIN, OVERRIDE_ORIGIN, Layer, Origin
from ._schema import (
    Invalid,
    KeyPath,
    Kind,
    collect,
    converter,
    dotted,
    fields_of,
    got,
    is_sequence,
    kind_of,
    map_value_type,
    parse_env,
)

__all__ = ["DEFAULT_ENV_PREFIX", "Loaded", "Sources", "load", "load_config"]

T = TypeVar("T")

DEFAULT_ENV_PREFIX = "OTP_"
ENV_SEPARATOR = "__"
"""Between the parts of a nested key in a variable's name: ``OTP_DB__POOL_SIZE``."""

_TOML_POSITION = re.compile(r"^(?P<what>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


@final
@attrs.frozen
class Sources:
    """Where the layers above the defaults come from (see :func:`load_config`)."""

    file: str | os.PathLike[str] | None = None
    env_prefix: str | None = DEFAULT_ENV_PREFIX
    environ: Mapping[str, str] | None = None
    overrides: Mapping[str, Any] | None = None


@final
@attrs.frozen
class Loaded(Generic[T]):
    """One successful load: the value, who set each key, and the file's digest."""

    value: T
    origins: Mapping[str, Origin]
    file_digest: bytes | None


class _Merge:
    """The merged data, the origin of each key set, and the problems found so far."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.origins: dict[KeyPath, Origin] = {}
        self.problems: list[str] = []
        self.failed: list[KeyPath] = []

    def problem(self, path: KeyPath, what: str, origin: Origin | None) -> None:
        self.failed.append(path)
        suffix = f" ({origin})" if origin is not None else ""
        self.problems.append(f"{dotted(path)}: {what}{suffix}")

    def origin_of(self, path: KeyPath) -> Origin | None:
        for end in range(len(path), 0, -1):
            origin = self.origins.get(path[:end])
            if origin is not None:
                return origin
        return None

    def merge(
        self,
        tp: Any,  # noqa: ANN401
        into: dict[str, Any],
        incoming: Mapping[Any, Any],
        origin: Origin,
        path: KeyPath = (),
    ) -> None:
        """Merge one layer's table ``incoming`` into ``into``, checked against ``tp``."""
        section = kind_of(tp) is Kind.SECTION
        allowed = fields_of(tp) if section else {}
        for key, value in incoming.items():
            key_path = (*path, str(key))
            if section:
                if key not in allowed:
                    close = difflib.get_close_matches(str(key), list(allowed), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    self.problem(key_path, f"unknown key{hint}", origin)
                    continue
                sub_type = allowed[key]
            else:
                if not isinstance(key, str):
                    self.problem(key_path, f"keys must be strings, got {got(key)}", origin)
                    continue
                sub_type = map_value_type(tp)
            if kind_of(sub_type) is not Kind.LEAF:
                if not isinstance(value, Mapping):
                    self.problem(key_path, f"expected a table, got {got(value)}", origin)
                    continue
                table = into.get(key)
                if not isinstance(table, dict):
                    table = into[key] = {}
                self.merge(sub_type, table, value, origin, key_path)
                continue
            if is_sequence(sub_type) and not isinstance(value, list | tuple):
                self.problem(key_path, f"expected a list, got {got(value)}", origin)
                continue
            into[key] = value
            self.origins[key_path] = origin


def _nest(path: KeyPath, value: object) -> dict[str, Any]:
    nested: Any = value
    for part in reversed(path):
        nested = {part: nested}
    result: dict[str, Any] = nested
    return result


def _expand_dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"db.pool_size": 5}`` as ``{"db": {"pool_size": 5}}``; attrs instances as tables."""
    expanded: dict[str, Any] = {}
    for key, value in overrides.items():
        if attrs.has(type(value)):
            value = converter.unstructure(value)  # noqa: PLW2901
        elif isinstance(value, Mapping):
            value = _expand_dotted(value)  # noqa: PLW2901
        target = expanded
        *parents, last = str(key).split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        if isinstance(value, dict) and isinstance(target.get(last), dict):
            target[last].update(value)
        else:
            target[last] = value
    return expanded


def _read_file(path: str, merge: _Merge) -> tuple[Mapping[str, Any] | None, bytes | None]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        merge.problems.append(f"{path}: cannot read the configuration file ({exc.strerror})")
        return None, None
    digest = hashlib.sha256(raw).digest()
    try:
        return tomllib.loads(raw.decode("utf-8")), digest
    except UnicodeDecodeError as exc:
        merge.problems.append(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.match(str(exc))
        if found is None:
            merge.problems.append(f"{path}: invalid TOML: {exc}")
        else:
            where = f"{path}:{found['line']}"
            merge.problems.append(
                f"{where}: invalid TOML: {found['what']} (line {found['line']}, "
                f"column {found['column']})"
            )
    return None, digest


def _env_entry(
    schema: type, prefix: str, name: str, text: str, merge: _Merge
) -> tuple[KeyPath, object] | None:
    """The key a variable sets and its value read by the key's type; or a problem."""
    origin = Origin(Layer.ENV, name)
    raw_parts = name[len(prefix) :].split(ENV_SEPARATOR)
    tp: Any = schema
    path: KeyPath = ()
    for index, raw in enumerate(raw_parts):
        part = raw.lower()
        kind = kind_of(tp)
        if kind is Kind.SECTION:
            fields = fields_of(tp)
            key = next((field for field in fields if field.lower() == part), None)
            if key is None:
                close = difflib.get_close_matches(part, [f.lower() for f in fields], n=1)
                hint = ""
                if close:
                    suggested = ENV_SEPARATOR.join([*raw_parts[:index], close[0]]).upper()
                    hint = f" (did you mean {prefix}{suggested}?)"
                merge.problem((*path, part), f"unknown key{hint}", origin)
                return None
            tp = fields[key]
            path = (*path, key)
        elif kind is Kind.MAP:
            tp = map_value_type(tp)
            path = (*path, part)
        else:
            merge.problem((*path, part), f"unknown key ({dotted(path)} is a value)", origin)
            return None
    if kind_of(tp) is Kind.SECTION:
        example = next(iter(fields_of(tp)), "KEY").upper()
        what = f"is a section; set its keys one by one, as in {name}{ENV_SEPARATOR}{example}"
        merge.problem(path, what, origin)
        return None
    try:
        return path, parse_env(text, tp if kind_of(tp) is Kind.LEAF else dict[str, Any])
    except Invalid as exc:
        merge.problem(path, str(exc), origin)
        return None


def _leaf_paths(tp: Any, value: object, path: KeyPath = ()) -> list[KeyPath]:  # noqa: ANN401
    kind = kind_of(tp)
    if kind is Kind.SECTION and attrs.has(type(value)):
        return [
            leaf
            for name, sub_type in fields_of(tp).items()
            for leaf in _leaf_paths(sub_type, getattr(value, name), (*path, name))
        ]
    if kind is Kind.MAP and isinstance(value, Mapping):
        sub_type = map_value_type(tp)
        return [
            leaf
            for key, item in value.items()
            for leaf in _leaf_paths(sub_type, item, (*path, key))
        ]
    return [path]


def load(schema: type[T], sources: Sources) -> Loaded[T]:
    """Load ``schema`` from ``sources``; raise :class:`ConfigError` with every problem."""
    if not attrs.has(schema):
        msg = f"a configuration schema must be an attrs class, got {got(schema)}"
        raise TypeError(msg)
    merge = _Merge()
    digest = None
    if sources.file is not None:
        path = os.fspath(sources.file)
        table, digest = _read_file(path, merge)
        if table is not None:
            merge.merge(schema, merge.data, table, Origin(Layer.FILE, path))
    prefix = sources.env_prefix
    if prefix is not None:
        environ = os.environ if sources.environ is None else sources.environ
        for name in sorted(environ):
            if not name.startswith(prefix):
                continue
            entry = _env_entry(schema, prefix, name, environ[name], merge)
            if entry is not None:
                key_path, text_value = entry
                table = _nest(key_path, text_value)
                merge.merge(schema, merge.data, table, Origin(Layer.ENV, name))
    if sources.overrides:
        merge.merge(schema, merge.data, _expand_dotted(sources.overrides), OVERRIDE_ORIGIN)
    try:
        structured = cast("T", converter.structure(merge.data, schema))
    except Exception as exc:  # noqa: BLE001  (every problem becomes a line of the ConfigError)
        found: list[tuple[KeyPath, str]] = []
        collect(exc, (), found)
        for key_path, what in found:
            if any(key_path[: len(failed)] == failed for failed in merge.failed):
                continue  # already reported by its layer
            merge.problem(key_path, what, merge.origin_of(key_path))
        raise ConfigError(sorted(merge.problems)) from None
    if merge.problems:
        raise ConfigError(sorted(merge.problems))
    origins = {
        dotted(leaf): merge.origin_of(leaf) or DEFAULT_ORIGIN
        for leaf in _leaf_paths(schema, structured)
    }
    return Loaded(structured, origins, digest)


def load_config(
    schema: type[T],
    *,
    file: str | os.PathLike[str] | None = None,
    env_prefix: str | None = DEFAULT_ENV_PREFIX,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Load a configuration once: defaults < TOML file < environment < overrides.

    Args:
        schema: An attrs class; its nested attrs classes are sections, its
            ``dict[str, X]`` fields are maps with free keys, its defaults are the lowest layer.
        file: A TOML file, or ``None`` for no file layer.
        env_prefix: Variables whose names start with it set keys: ``OTP_DB__POOL_SIZE`` sets
            ``db.pool_size`` (``__`` between levels, case-insensitive). ``None``: no
            environment layer.
        environ: The environment to read (``os.environ`` by default).
        overrides: The highest layer: a nested mapping, or dotted keys (``{"db.pool_size": 5}``).

    Raises:
        ConfigError: Every problem found, each naming its key and its layer.

    Example::

        @attrs.frozen
        class Db:
            url: str = "sqlite://"
            pool_size: int = 5

        @attrs.frozen
        class Settings:
            db: Db = Db()

        settings = otp.config.load_config(Settings, environ={"OTP_DB__POOL_SIZE": "10"})
        assert settings.db.pool_size == 10
    """
    return load(schema, Sources(file, env_prefix, environ, overrides)).value
