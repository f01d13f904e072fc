"""Trees declared as data: a supervision tree loaded from TOML, JSON or dicts, and saved back.

A tree file is the root supervisor: its flags at the top level, its children in ``children``.
A child's ``start`` is an import path, resolved when the file is loaded; a child with
``children`` is a nested supervisor, one with a ``template`` a nested dynamic supervisor::

    name = "shop"
    strategy = "rest_for_one"     # one_for_one (default), one_for_all, rest_for_one
    intensity = 5                 # restarts allowed within any `period` seconds (default 3)
    period = 10.0                 # default 5.0
    auto_shutdown = "never"       # never (default), any_significant, all_significant

    [backoff]                     # optional: wait before each restart
    min = 0.1
    max = 5.0
    multiplier = 2.0              # default 2.0
    jitter = 0.1                  # default 0.0
    reset_after = 2.0             # default (min + max) / 2

    [report_limit]                # optional: child reports logged per window (see ReportLimit)
    max_reports = 100             # default 100; "infinity" logs every report
    window = 1.0                  # default 1.0

    [[children]]
    id = "config"
    start = "shop.config:ConfigServer"   # an otp.GenServer subclass...
    name = "config"                      # ...registered under this name
    args = ["/etc/shop.toml"]

    [[children]]
    id = "db"
    start = "shop.db:pool"        # "package.module:function": an async function
    args = ["postgres://localhost/shop", 10]
    restart = "permanent"         # permanent (default), transient, temporary
    shutdown = 10.0               # seconds, "brutal_kill" or "infinity" (default 5.0)
    type = "worker"               # worker (default) or supervisor

    [children.liveness]           # optional: the child must call otp.heartbeat()
    interval = 1.0
    threshold = 8.0               # the defaults of otp.Heartbeat otherwise
    acceptable_pause = 3.0
    min_std_deviation = 0.1
    max_sample_size = 1000

    [[children]]
    id = "workers"                # a nested supervisor: flags and children
    type = "supervisor"
    strategy = "one_for_all"
    intensity = 10

    [[children.children]]
    id = "fetcher"
    start = "shop.work:fetcher"

    [[children]]
    id = "jobs"                   # a nested dynamic supervisor: a template
    type = "supervisor"
    max_children = 100
    significant = false           # and restart, shutdown, backoff, auto_shutdown, name,
                                  # report_limit

    [children.template]
    id = "job"
    start = "shop.work:job"
    restart = "transient"

Loading goes in two steps. A cattrs converter (``forbid_extra_keys``, detailed validation)
structures the data into frozen *document* classes that mirror the format (:class:`TreeDoc`,
:class:`ChildDoc`, :class:`BackoffDoc`, :class:`HeartbeatDoc`); its hooks check every value
and resolve every ``start``, and each error is kept with the path of its key. The documents
are then built into the library's own objects (:class:`otp.ChildSpec` lists made by
:func:`otp.supervisor_spec`, :func:`otp.dynamic_supervisor_spec` and
:meth:`otp.GenServer.child_spec`) held by a :class:`Tree`. Saving runs the same way back.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import json
import math
import os
import re
import tomllib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NewType, TypeAlias, TypeVar, final

import attrs
import cattrs
import trio
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from ._backoff import Backoff
from ._burst import ReportLimit
from ._dynamic import NestedDynamicSupervisor, dynamic_supervisor_spec
from ._exceptions import ChildSpecError, OtpError
from ._flags import (
    DEFAULT_REPORT_LIMIT,
    AutoShutdown,
    AutoShutdownLike,
    RandomSource,
    Strategy,
    StrategyLike,
    SupervisorFlags,
    make_flags,
)
from ._heartbeat import Heartbeat
from ._numbers import as_float
from ._reports import Hook
from ._server import GenServer, ServerStart
from ._spec import (
    DEFAULT_WORKER_SHUTDOWN,
    INFINITY,
    ChildSpec,
    ChildType,
    Restart,
    ShutdownLimit,
    ShutdownMode,
    _got,
    _quoted_choices,
    check_child_specs,
)
from ._supervisor import (
    NestedSupervisor,
    Supervisor,
    open_supervisor,
    supervisor,
    supervisor_spec,
)
from ._taxonomy import DECLARATION, classify

__all__ = ["Tree", "TreeError", "load_tree"]

# --- paths and problems -------------------------------------------------------------------

KeyPath: TypeAlias = tuple[str | int, ...]
"""Where a key is in a document: ``("children", 2, "restart")`` is ``children[2].restart``."""

Problem: TypeAlias = tuple[KeyPath, str]


def _render_path(path: KeyPath) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "tree"


def _render(problems: Sequence[Problem]) -> list[str]:
    """The problems as lines: each table's own first, then those of its children, in order."""

    def place(problem: Problem) -> tuple[int, ...]:
        return tuple(part for part in problem[0] if isinstance(part, int))

    return [f"{_render_path(path)}: {message}" for path, message in sorted(problems, key=place)]


@classify(DECLARATION)
@final
class TreeError(OtpError, ValueError):
    """A tree could not be loaded or saved; ``problems`` lists every problem found.

    Each problem is one line: the path of the key (``children[2].restart``), a colon, and
    what was expected and what was given. Loading reports all the problems it finds at once,
    not only the first.

    Attributes:
        problems: The problems, one string each: those of a table before those of the
            tables in it, children in order.
        source: The file it came from, if any.

    Example::

        try:
            tree = otp.load_tree("shop.toml")
        except otp.TreeError as exc:
            for problem in exc.problems:
                print(problem)   # children[2].restart: must be one of 'permanent', ...
    """

    problems: tuple[str, ...]
    source: str | None

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        if len(self.problems) == 1:
            text = self.problems[0] if source is None else f"{source}: {self.problems[0]}"
        else:
            where = f" in {source}" if source is not None else ""
            lines = "".join(f"\n  {problem}" for problem in self.problems)
            text = f"{len(self.problems)} problems{where}:{lines}"
        super().__init__(text)


class _Invalid(ValueError):
    """A structure hook's verdict on one value, at the path of its key."""


class _Problems(Exception):
    """Problems found by a check across keys, at paths relative to the checked table."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def _unknown_key(key: object, cls: type) -> str:
    allowed = [field.name for field in attrs.fields(cls)]
    close = difflib.get_close_matches(str(key), allowed, n=1)
    return f"unknown key (did you mean {close[0]!r}?)" if close else "unknown key"


def _collect(exc: BaseException, path: KeyPath, out: list[Problem]) -> None:
    """Flatten cattrs' validation errors (and ours) into problems with their paths."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            _collect(sub, (*path, note.name), out)
        for sub in without:
            _collect(sub, path, out)
    elif isinstance(exc, IterableValidationError):
        items, rest = exc.group_exceptions()
        for sub, item in items:
            _collect(sub, (*path, item.index), out)
        for sub in rest:
            _collect(sub, path, out)
    elif isinstance(exc, ForbiddenExtraKeysError):
        keys = sorted(exc.extra_fields, key=str)
        out.extend(((*path, str(key)), _unknown_key(key, exc.cl)) for key in keys)
    elif isinstance(exc, _Problems):
        out.extend(((*path, *relative), message) for relative, message in exc.problems)
    elif isinstance(exc, _Invalid):
        out.append((path, str(exc)))
    elif isinstance(exc, KeyError):  # the generated structure code reads a required key
        out.append((path, "missing required key"))
    else:
        out.append((path, f"invalid value ({type(exc).__name__}: {exc})"))


# --- import paths -------------------------------------------------------------------------

_DOTTED = r"[^\W\d]\w*(?:\.[^\W\d]\w*)*"
_IMPORT_PATH = re.compile(rf"{_DOTTED}:{_DOTTED}")


def _resolve(path: str) -> object:
    module_name, _, qualname = path.partition(":")
    target: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _why(exc: BaseException) -> str:
    if isinstance(exc, ImportError | AttributeError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _is_server(target: object) -> bool:
    return inspect.isclass(target) and issubclass(target, GenServer)


def _start_problem(path: str, target: object) -> str | None:
    """Why ``target`` (found at ``path``) cannot be a child's start, or ``None``."""
    if inspect.isclass(target):
        if _is_server(target):
            return None
        return (
            f"{path!r} is the class {target.__qualname__!r}; a class can be a start only "
            "if it is an otp.GenServer subclass"
        )
    if not callable(target):
        return f"{path!r} is not callable (it is {_got(target)})"
    function: Any = target
    while isinstance(function, functools.partial):
        function = function.func
    if inspect.isfunction(function) or inspect.ismethod(function):
        if inspect.iscoroutinefunction(function):
            return None
        kind = "an async generator" if inspect.isasyncgenfunction(function) else "a sync"
        return f"{path!r} is {kind} function; a start must be defined with 'async def'"
    return None  # an object with a __call__: ChildSpec checks what can be checked


def _import_path_of(target: object) -> str | None:
    """The ``module:qualname`` path that leads back to ``target``, if there is one."""
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    path = f"{module}:{qualname}"
    if not _IMPORT_PATH.fullmatch(path):
        return None  # a lambda, or something defined inside a function
    try:
        found = _resolve(path)
    except Exception:  # noqa: BLE001  (any failure means: no way back)
        return None
    if found is target or (inspect.ismethod(target) and found == target):
        return path
    return None


@final
@attrs.frozen
class StartRef:
    """A resolved ``start``: the import path as written, and what it names."""

    path: str
    target: object = attrs.field(eq=False, repr=False)


DocT = TypeVar("DocT")

# --- the document classes -----------------------------------------------------------------

Seconds = NewType("Seconds", float)
"""A finite number of seconds > 0."""
Pause = NewType("Pause", float)
"""A finite number of seconds >= 0."""
PositiveNumber = NewType("PositiveNumber", float)
"""A finite number > 0."""
NonNegativeNumber = NewType("NonNegativeNumber", float)
"""A finite number >= 0."""
Factor = NewType("Factor", float)
"""A finite number >= 1."""
Count = NewType("Count", int)
"""An int >= 0."""
Size = NewType("Size", int)
"""An int >= 1."""
ReportCount = NewType("ReportCount", object)
"""An int >= 1, or ``"infinity"`` (no limit)."""
OptionalShutdown: TypeAlias = float | ShutdownMode | None


@final
@attrs.frozen(kw_only=True)
class BackoffDoc:
    """The ``backoff`` table of a supervisor: see :class:`otp.Backoff`."""

    min: Seconds
    max: Seconds
    multiplier: Factor | None = None
    jitter: NonNegativeNumber | None = None
    reset_after: Seconds | None = None


@final
@attrs.frozen(kw_only=True)
class ReportLimitDoc:
    """The ``report_limit`` table of a supervisor: see :class:`otp.ReportLimit`."""

    max_reports: ReportCount | None = None
    window: Seconds | None = None


@final
@attrs.frozen(kw_only=True)
class HeartbeatDoc:
    """The ``liveness`` table of a child: see :class:`otp.Heartbeat`."""

    interval: Seconds | None = None
    threshold: PositiveNumber | None = None
    acceptable_pause: Pause | None = None
    min_std_deviation: Seconds | None = None
    max_sample_size: Size | None = None


@final
@attrs.frozen(kw_only=True)
class ChildDoc:
    """One entry of ``children`` (or a ``template``): a worker, a server or a supervisor.

    A child with ``children`` is a nested static supervisor, one with a ``template`` a
    nested dynamic supervisor; any other child has a ``start``. ``None`` means "not given":
    the library's default applies.
    """

    id: str | int
    start: StartRef | None = None
    name: str | None = None
    args: tuple[object, ...] = ()
    restart: Restart | None = None
    shutdown: OptionalShutdown = None
    type: ChildType | None = None
    significant: bool = False
    liveness: HeartbeatDoc | None = None
    strategy: Strategy | None = None
    intensity: Count | None = None
    period: Seconds | None = None
    auto_shutdown: AutoShutdown | None = None
    max_children: Size | None = None
    backoff: BackoffDoc | None = None
    report_limit: ReportLimitDoc | None = None
    template: ChildDoc | None = None
    children: tuple[ChildDoc, ...] | None = None


@final
@attrs.frozen(kw_only=True)
class TreeDoc:
    """A whole tree file: the root supervisor's flags and its children."""

    name: str | None = None
    strategy: Strategy | None = None
    intensity: Count | None = None
    period: Seconds | None = None
    auto_shutdown: AutoShutdown | None = None
    backoff: BackoffDoc | None = None
    report_limit: ReportLimitDoc | None = None
    children: tuple[ChildDoc, ...] = ()


for _doc_class in (BackoffDoc, ReportLimitDoc, HeartbeatDoc, ChildDoc, TreeDoc):
    attrs.resolve_types(_doc_class)

_SUPERVISOR_KEYS = (
    "strategy",
    "intensity",
    "period",
    "auto_shutdown",
    "max_children",
    "backoff",
    "report_limit",
)

# --- structure hooks: one value each ------------------------------------------------------


def _float_hook(minimum: float, *, inclusive: bool, seconds: bool) -> Callable[[Any, Any], Any]:
    relation = ">=" if inclusive else ">"
    what = "a finite number of seconds" if seconds else "a finite number"
    expected = f"must be {what} {relation} {minimum:g}"

    def structure(value: object, _: object) -> float:
        number = as_float(value)
        if not math.isfinite(number):
            raise _Invalid(f"{expected} (got {_got(value)})")
        if number < minimum or (number == minimum and not inclusive):
            raise _Invalid(f"{expected} (got {_got(value)})")
        return number

    return structure


def _int_hook(minimum: int) -> Callable[[Any, Any], Any]:
    def structure(value: object, _: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            msg = f"must be an int >= {minimum} (got {_got(value)})"
            raise _Invalid(msg)
        return value

    return structure


def _choice_hook(enum: type[Restart | ChildType | Strategy | AutoShutdown]) -> Callable[..., Any]:
    def structure(value: object, _: object) -> object:
        if isinstance(value, str):
            try:
                return enum(value)
            except ValueError:
                pass
        msg = f"must be one of {_quoted_choices(enum)} (got {_got(value)})"
        raise _Invalid(msg)

    return structure


def _structure_report_count(value: object, _: object) -> object:
    if value == "infinity" or (
        isinstance(value, int) and not isinstance(value, bool) and value >= 1
    ):
        return value
    msg = f"must be an int >= 1 or 'infinity' (got {_got(value)})"
    raise _Invalid(msg)


def _structure_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        msg = f"must be a string (got {_got(value)})"
        raise _Invalid(msg)
    return value


def _structure_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        msg = f"must be true or false (got {_got(value)})"
        raise _Invalid(msg)
    return value


def _structure_id(value: object, _: object) -> str | int:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    msg = f"must be a string or an int (got {_got(value)})"
    raise _Invalid(msg)


def _structure_shutdown(value: object, _: object) -> ShutdownLimit | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return ShutdownMode(value)
        except ValueError:
            pass
    else:
        number = as_float(value)  # an int beyond any float reads as forever
        if number >= 0:  # NaN fails this
            return INFINITY if number == math.inf else number
    msg = f"must be a number of seconds >= 0, 'brutal_kill' or 'infinity' (got {_got(value)})"
    raise _Invalid(msg)


def _structure_args(value: object, _: object) -> tuple[object, ...]:
    # Exactly what to_dict writes: a list of plain data, so that a dict loads as its file does.
    if not isinstance(value, list):
        msg = f"must be a list (got {_got(value)})"
        raise _Invalid(msg)
    problems: list[Problem] = []
    for index, item in enumerate(value):
        _args_problems(item, (index,), problems)
    if problems:
        where, message = problems[0]
        at = "".join(f"[{step!r}]" for step in where)
        msg = f"args{at} {message.replace('cannot save ', 'is ', 1)}"
        raise _Invalid(msg)
    return tuple(value)


def _structure_start(value: object, _: object) -> StartRef:
    if not isinstance(value, str) or not _IMPORT_PATH.fullmatch(value):
        msg = f"must be an import path 'package.module:function' (got {_got(value)})"
        raise _Invalid(msg)
    try:
        target = _resolve(value)
    except Exception as exc:  # noqa: BLE001  (a module may raise anything as it is imported)
        msg = f"cannot import {value!r} ({_why(exc)})"
        raise _Invalid(msg) from None
    problem = _start_problem(value, target)
    if problem is not None:
        raise _Invalid(problem)
    return StartRef(value, target)


def _raw_id(item: object) -> str | int | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get("id")
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


def _children_hook(converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    def structure(value: object, _: object) -> tuple[ChildDoc, ...]:
        if not isinstance(value, list | tuple):
            msg = f"must be a list of tables (got {_got(value)})"
            raise _Invalid(msg)
        docs: list[ChildDoc] = []
        errors: list[Exception] = []
        first: dict[str | int, int] = {}
        for index, item in enumerate(value):
            try:
                docs.append(converter.structure(item, ChildDoc))
            except Exception as exc:  # noqa: BLE001  (collected, with its index)
                errors.append(exc)
                exc.add_note(IterableValidationNote(f"children[{index}]", index, ChildDoc))
            # Duplicates are found from the raw ids, so a child with another problem still
            # counts: every problem shows at once.
            child_id = _raw_id(item)
            if child_id is None:
                continue
            if child_id in first:
                message = (
                    f"duplicate child id {child_id!r} (also the id of children[{first[child_id]}])"
                )
                duplicate = _Problems([(("id",), message)])
                duplicate.add_note(IterableValidationNote(f"children[{index}]", index, ChildDoc))
                errors.append(duplicate)
            else:
                first[child_id] = index
        if errors:
            errors.sort(key=_note_index)  # keep document order
            raise IterableValidationError("While structuring children", errors, tuple)
        return tuple(docs)

    return structure


def _note_index(exc: BaseException) -> int:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, IterableValidationNote) and isinstance(note.index, int):
            return note.index
    return -1


# --- checks across the keys of one table --------------------------------------------------
#
# They read the raw table, so that they run even when a value in it (or in a nested child)
# is wrong: every problem shows at once. A value that is itself wrong is reported by its own
# hook and ignored here.

Raw: TypeAlias = Mapping[Any, Any]


def _given_raw(raw: Raw, key: str) -> bool:
    return raw.get(key) is not None  # JSON's null means "not given", as a missing key does


def _check_backoff(raw: Raw, doc: BackoffDoc | None) -> list[Problem]:
    if doc is not None and doc.max < doc.min:
        return [(("max",), f"must be >= min (got min={doc.min!r}, max={doc.max!r})")]
    return []


def _check_heartbeat(raw: Raw, doc: HeartbeatDoc | None) -> list[Problem]:
    return []


def _check_report_limit(raw: Raw, doc: ReportLimitDoc | None) -> list[Problem]:
    return []


_SIGNIFICANT_ADVICE = (
    "set auto_shutdown to 'any_significant' or 'all_significant', or drop significant"
)


def _check_significant(raw: Raw) -> list[Problem]:
    """Significant children of a supervisor whose ``auto_shutdown`` is ``'never'``."""
    if raw.get("auto_shutdown") not in (None, AutoShutdown.NEVER.value):
        return []
    problems: list[Problem] = []
    children = raw.get("children")
    if isinstance(children, list | tuple):
        for index, child in enumerate(children):
            if isinstance(child, Mapping) and child.get("significant") is True:
                message = (
                    f"child {child.get('id')!r} is significant but auto_shutdown is 'never'; "
                    f"{_SIGNIFICANT_ADVICE}"
                )
                problems.append((("children", index, "significant"), message))
    template = raw.get("template")
    if isinstance(template, Mapping) and template.get("significant") is True:
        message = f"the template is significant but auto_shutdown is 'never'; {_SIGNIFICANT_ADVICE}"
        problems.append((("template", "significant"), message))
    return problems


_NESTED = "a nested supervisor (a child with 'children' or a 'template')"


def _check_nested(raw: Raw) -> list[Problem]:
    problems: list[Problem] = []
    static, dynamic = _given_raw(raw, "children"), _given_raw(raw, "template")
    if static and dynamic:
        message = (
            "not allowed with 'children': a nested supervisor is static (with 'children') "
            "or dynamic (with a 'template')"
        )
        problems.append((("template",), message))
    problems.extend(
        ((key,), f"not allowed for {_NESTED}")
        for key in ("start", "args", "liveness")
        if _given_raw(raw, key)
    )
    if raw.get("type") == ChildType.WORKER.value:
        problems.append((("type",), f"must be 'supervisor' for {_NESTED} (got 'worker')"))
    if dynamic and _given_raw(raw, "strategy"):
        message = (
            "not allowed for a dynamic supervisor (a child with a 'template'): it restarts "
            "each child on its own"
        )
        problems.append((("strategy",), message))
    if not dynamic and _given_raw(raw, "max_children"):
        message = "only a dynamic supervisor (a child with a 'template') takes this key"
        problems.append((("max_children",), message))
    return problems


def _check_child(raw: Raw, doc: ChildDoc | None) -> list[Problem]:
    if _given_raw(raw, "children") or _given_raw(raw, "template"):
        problems = _check_nested(raw)
    else:
        problems = []
        if not _given_raw(raw, "start"):
            message = (
                "missing required key (or give 'children' or a 'template' for a nested supervisor)"
            )
            problems.append((("start",), message))
        problems.extend(
            ((key,), f"only {_NESTED} takes this key")
            for key in _SUPERVISOR_KEYS
            if _given_raw(raw, key)
        )
        start = doc.start if doc is not None else None
        named = doc is not None and doc.name is not None
        if named and start is not None and not _is_server(start.target):
            message = (
                "only a nested supervisor, or a child whose start is an otp.GenServer "
                f"subclass, takes a name ({start.path!r} is not one)"
            )
            problems.append((("name",), message))
    if raw.get("significant") is True and raw.get("restart") in (None, Restart.PERMANENT.value):
        message = "a significant child must be 'transient' or 'temporary' (got restart='permanent')"
        problems.append((("significant",), message))
    return problems + _check_significant(raw)


def _check_tree(raw: Raw, doc: TreeDoc | None) -> list[Problem]:
    return _check_significant(raw)


def _table_hook(
    converter: cattrs.Converter,
    cls: type[DocT],
    check: Callable[[Raw, DocT | None], list[Problem]],
) -> Callable[[Any, Any], DocT]:
    generated = make_dict_structure_fn(cls, converter)

    def structure(value: object, _: object) -> DocT:
        if not isinstance(value, Mapping):
            msg = f"must be a table (got {_got(value)})"
            raise _Invalid(msg)
        try:
            doc = generated(value, cls)
        except ClassValidationError as exc:
            problems = check(value, None)
            if problems:
                errors = [*exc.exceptions, _Problems(problems)]
                raise ClassValidationError(exc.message, errors, cls) from None
            raise
        problems = check(value, doc)
        if problems:
            raise _Problems(problems)
        return doc

    return structure


# --- unstructure hooks --------------------------------------------------------------------


def _plain(value: object) -> object:
    """A copy of an ``args`` value made only of lists and dicts (checked beforehand)."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _unstructure_shutdown(value: OptionalShutdown) -> object:
    return value.value if isinstance(value, ShutdownMode) else value


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(
        forbid_extra_keys=True,
        detailed_validation=True,
        unstruct_collection_overrides={tuple: list},
    )
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(bool, _structure_bool)
    numbers: list[tuple[object, Callable[[Any, Any], Any]]] = [
        (Seconds, _float_hook(0, inclusive=False, seconds=True)),
        (Pause, _float_hook(0, inclusive=True, seconds=True)),
        (PositiveNumber, _float_hook(0, inclusive=False, seconds=False)),
        (NonNegativeNumber, _float_hook(0, inclusive=True, seconds=False)),
        (Factor, _float_hook(1, inclusive=True, seconds=False)),
        (Count, _int_hook(0)),
        (Size, _int_hook(1)),
        (ReportCount, _structure_report_count),
    ]
    for new_type, hook in numbers:
        converter.register_structure_hook(new_type, hook)
    for enum in (Restart, ChildType, Strategy, AutoShutdown):
        converter.register_structure_hook(enum, _choice_hook(enum))
        converter.register_unstructure_hook(enum, lambda member: member.value)
    converter.register_structure_hook_func(lambda t: t == (str | int), _structure_id)
    converter.register_structure_hook_func(lambda t: t == OptionalShutdown, _structure_shutdown)
    converter.register_unstructure_hook_func(lambda t: t == OptionalShutdown, _unstructure_shutdown)
    converter.register_structure_hook_func(lambda t: t == tuple[object, ...], _structure_args)
    converter.register_unstructure_hook_func(
        lambda t: t == tuple[object, ...], lambda args: [_plain(arg) for arg in args]
    )
    converter.register_structure_hook(StartRef, _structure_start)
    converter.register_unstructure_hook(StartRef, lambda ref: ref.path)
    converter.register_structure_hook_func(
        lambda t: t == tuple[ChildDoc, ...], _children_hook(converter)
    )
    converter.register_structure_hook(
        BackoffDoc, _table_hook(converter, BackoffDoc, _check_backoff)
    )
    converter.register_structure_hook(
        HeartbeatDoc, _table_hook(converter, HeartbeatDoc, _check_heartbeat)
    )
    converter.register_structure_hook(
        ReportLimitDoc, _table_hook(converter, ReportLimitDoc, _check_report_limit)
    )
    converter.register_structure_hook(ChildDoc, _table_hook(converter, ChildDoc, _check_child))
    converter.register_structure_hook(TreeDoc, _table_hook(converter, TreeDoc, _check_tree))
    for cls in (BackoffDoc, ReportLimitDoc, HeartbeatDoc, ChildDoc, TreeDoc):
        converter.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True)
        )
    return converter


_converter = _make_converter()

# --- documents -> library objects ---------------------------------------------------------


def _given(doc: object, *keys: str) -> dict[str, Any]:
    """The keys of ``doc`` that were given, for keyword arguments (defaults stay the library's)."""
    return {key: getattr(doc, key) for key in keys if getattr(doc, key) is not None}


def _backoff_from(doc: BackoffDoc | None) -> Backoff | None:
    if doc is None:
        return None
    return Backoff(doc.min, doc.max, **_given(doc, "multiplier", "jitter", "reset_after"))


def _report_limit_from(doc: ReportLimitDoc | None) -> dict[str, Any]:
    """The ``report_limit`` keyword for a table, or nothing (the library's default)."""
    if doc is None:
        return {}
    count: object = doc.max_reports
    if count == "infinity":
        return {"report_limit": None}
    return {"report_limit": ReportLimit(**_given(doc, "max_reports", "window"))}


def _heartbeat_from(doc: HeartbeatDoc | None) -> Heartbeat | None:
    if doc is None:
        return None
    keys = ("interval", "threshold", "acceptable_pause", "min_std_deviation", "max_sample_size")
    return Heartbeat(**_given(doc, *keys))


def _spec_from(doc: ChildDoc, path: KeyPath, problems: list[Problem]) -> ChildSpec | None:
    options = _given(doc, "restart", "shutdown")
    try:
        if doc.children is not None:
            children = _specs_from(doc.children, (*path, "children"), problems)
            if children is None:
                return None
            flags = _given(doc, "strategy", "intensity", "period", "auto_shutdown", "name")
            return supervisor_spec(
                doc.id,
                children,
                backoff=_backoff_from(doc.backoff),
                significant=doc.significant,
                **_report_limit_from(doc.report_limit),
                **flags,
                **options,
            )
        if doc.template is not None:
            template = _spec_from(doc.template, (*path, "template"), problems)
            if template is None:
                return None
            flags = _given(doc, "intensity", "period", "auto_shutdown", "max_children", "name")
            return dynamic_supervisor_spec(
                doc.id,
                template,
                backoff=_backoff_from(doc.backoff),
                significant=doc.significant,
                **_report_limit_from(doc.report_limit),
                **flags,
                **options,
            )
        assert doc.start is not None  # checked by _check_child
        target: Any = doc.start.target
        # A server with a name runs through ServerStart; without one, the class is the start
        # (the same spec as GenServer.child_spec gives).
        start = ServerStart(target, doc.name) if doc.name is not None else target
        return ChildSpec(
            doc.id,
            start,
            doc.args,
            type=doc.type or ChildType.WORKER,
            significant=doc.significant,
            liveness=_heartbeat_from(doc.liveness),
            **options,
        )
    except ChildSpecError as exc:  # the documents are checked; this is a safety net
        problems.append((path, str(exc)))
        return None


def _specs_from(
    docs: Sequence[ChildDoc], path: KeyPath, problems: list[Problem]
) -> list[ChildSpec] | None:
    specs = [_spec_from(doc, (*path, index), problems) for index, doc in enumerate(docs)]
    return [spec for spec in specs if spec is not None] if None not in specs else None


MAX_TEXT = 16 * 2**20
"""The largest tree text accepted, in characters (or bytes): a tree is a few kilobytes."""

MAX_DEPTH = 64
"""How deeply lists and tables may nest in a tree: each nested supervisor takes two levels."""


def _check_size(text: str | bytes, kind: str) -> None:
    if len(text) > MAX_TEXT:
        unit = "bytes" if isinstance(text, bytes) else "characters"
        msg = f"invalid {kind}: {len(text):,} {unit}, more than the {MAX_TEXT:,} a tree may take"
        raise TreeError([msg])


def _too_deep(kind: str) -> TreeError:
    msg = f"invalid {kind}: nested too deeply (a tree nests at most {MAX_DEPTH} levels)"
    return TreeError([msg])


def _parse_toml(text: str | bytes) -> object:
    _check_size(text, "TOML")
    try:
        return tomllib.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"invalid TOML ({exc})"
        raise TreeError([msg]) from None
    except RecursionError:
        raise _too_deep("TOML") from None


def _parse_json(text: str | bytes) -> object:
    _check_size(text, "JSON")
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not text
        msg = f"invalid JSON ({exc})"
        raise TreeError([msg]) from None
    except RecursionError:
        raise _too_deep("JSON") from None


def _depth(data: object) -> int:
    """How deeply lists and tables nest in ``data`` (without recursing, so any depth works)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, Mapping):
            children: Iterable[object] = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _load(data: object) -> Tree:
    if _depth(data) > MAX_DEPTH:
        raise _too_deep("tree")
    try:
        doc: TreeDoc = _converter.structure(data, TreeDoc)
    except Exception as exc:  # noqa: BLE001  (every problem becomes a line of the TreeError)
        found: list[Problem] = []
        _collect(exc, (), found)
        raise TreeError(_render(found)) from None
    problems: list[Problem] = []
    children = _specs_from(doc.children, ("children",), problems)
    if children is None:
        raise TreeError(_render(problems))
    flags = _given(doc, "strategy", "intensity", "period", "auto_shutdown", "name")
    try:
        return Tree(
            children,
            backoff=_backoff_from(doc.backoff),
            **_report_limit_from(doc.report_limit),
            **flags,
        )
    except ChildSpecError as exc:  # a safety net, as in _spec_from
        raise TreeError([str(exc)]) from None


# --- library objects -> documents ---------------------------------------------------------


def _defaults(function: Callable[..., object], *names: str) -> dict[str, object]:
    parameters = inspect.signature(function).parameters
    return {name: parameters[name].default for name in names}


_STATIC_DEFAULTS = _defaults(
    supervisor_spec, "strategy", "intensity", "period", "backoff", "auto_shutdown", "report_limit"
)
_DYNAMIC_DEFAULTS = _defaults(
    dynamic_supervisor_spec,
    "intensity",
    "period",
    "backoff",
    "auto_shutdown",
    "max_children",
    "report_limit",
)


def _backoff_doc(backoff: Backoff | None) -> BackoffDoc | None:
    if backoff is None:
        return None
    usual = Backoff(backoff.min, backoff.max)
    return BackoffDoc(
        min=Seconds(backoff.min),
        max=Seconds(backoff.max),
        multiplier=None if backoff.multiplier == usual.multiplier else Factor(backoff.multiplier),
        jitter=None if backoff.jitter == usual.jitter else NonNegativeNumber(backoff.jitter),
        reset_after=None
        if backoff.reset_after == usual.reset_after
        else Seconds(backoff.reset_after),
    )


def _report_limit_doc(limit: ReportLimit | None) -> ReportLimitDoc:
    if limit is None:
        return ReportLimitDoc(max_reports=ReportCount("infinity"))
    usual = ReportLimit()
    return ReportLimitDoc(
        max_reports=None
        if limit.max_reports == usual.max_reports
        else ReportCount(limit.max_reports),
        window=None if limit.window == usual.window else Seconds(limit.window),
    )


def _heartbeat_doc(heartbeat: Heartbeat | None) -> HeartbeatDoc | None:
    if heartbeat is None:
        return None
    usual = Heartbeat(heartbeat.interval)

    def unless_usual(key: str) -> Any:  # noqa: ANN401  (one of the fields' types)
        value = getattr(heartbeat, key)
        return None if value == getattr(usual, key) else value

    return HeartbeatDoc(
        interval=Seconds(heartbeat.interval),
        threshold=unless_usual("threshold"),
        acceptable_pause=unless_usual("acceptable_pause"),
        min_std_deviation=unless_usual("min_std_deviation"),
        max_sample_size=unless_usual("max_sample_size"),
    )


def _flag_values(flags: SupervisorFlags, defaults: Mapping[str, object]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, default in defaults.items():
        value = getattr(flags, key)
        if value != default:
            if key == "backoff":
                value = _backoff_doc(value)
            elif key == "report_limit":
                value = _report_limit_doc(value)
            values[key] = value
    return values


def _args_problems(value: object, path: KeyPath, problems: list[Problem]) -> None:
    if value is None or isinstance(value, bool | int | float | str):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _args_problems(item, (*path, index), problems)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append((path, f"cannot save a table key that is not a string ({key!r})"))
            else:
                _args_problems(item, (*path, key), problems)
        return
    hint = "; use a list for a tuple" if isinstance(value, tuple) else ""
    message = (
        f"cannot save {_got(value)}: args in a file hold strings, numbers, booleans, null, "
        f"lists and tables with string keys{hint}"
    )
    problems.append((path, message))


def _start_problem_on_save(spec: ChildSpec) -> str:
    start = spec.start
    if isinstance(start, functools.partial):
        return (
            f"cannot save child {spec.id!r}: its start is a functools.partial, which has no "
            "import path; start from the function itself and put the arguments in args"
        )
    name = getattr(start, "__qualname__", None)
    shown = repr(name) if isinstance(name, str) else f"(an object of type {type(start).__name__!r})"
    return (
        f"cannot save child {spec.id!r}: its start {shown} has no import path "
        "'module:name' that leads back to it; use a module-level async function or an "
        "otp.GenServer subclass"
    )


def _child_doc(spec: ChildSpec, path: KeyPath, problems: list[Problem]) -> ChildDoc | None:
    before = len(problems)
    if not isinstance(spec.id, str) and (not isinstance(spec.id, int) or isinstance(spec.id, bool)):
        problems.append(
            (
                (*path, "id"),
                f"cannot save child id {_got(spec.id)}: an id in a file is a string or an int",
            )
        )
    start = spec.start
    nested = isinstance(start, NestedSupervisor | NestedDynamicSupervisor)
    default_shutdown = INFINITY if spec.type is ChildType.SUPERVISOR else DEFAULT_WORKER_SHUTDOWN
    fields: dict[str, Any] = {
        "restart": None if spec.restart is Restart.PERMANENT else spec.restart,
        "shutdown": None if spec.shutdown == default_shutdown else spec.shutdown,
        "significant": spec.significant,
    }
    if nested:
        assert isinstance(start, NestedSupervisor | NestedDynamicSupervisor)
        fields["type"] = ChildType.SUPERVISOR
        fields["name"] = start.name
        if start.hooks or start.random is not None:
            what = "hooks, which are" if start.hooks else "a random source, which is"
            message = (
                f"cannot save child {spec.id!r}: its supervisor has {what} not data; pass "
                "hooks and random to Tree.run() or Tree.open() instead"
            )
            problems.append((path, message))
        if spec.args or spec.liveness is not None or spec.type is not ChildType.SUPERVISOR:
            message = (
                f"cannot save child {spec.id!r}: the file format has no args, liveness or "
                "type 'worker' for a nested supervisor"
            )
            problems.append((path, message))
        if isinstance(start, NestedSupervisor):
            fields.update(_flag_values(start.flags, _STATIC_DEFAULTS))
            docs = [
                _child_doc(child, (*path, "children", index), problems)
                for index, child in enumerate(start.children)
            ]
            fields["children"] = tuple(doc for doc in docs if doc is not None)
        else:
            fields.update(_flag_values(start.flags, _DYNAMIC_DEFAULTS))
            fields["template"] = _child_doc(start.template, (*path, "template"), problems)
    else:
        target: object = start
        if isinstance(start, ServerStart):
            target = start.server
            if start.name is not None and not isinstance(start.name, str):
                problems.append(
                    (
                        (*path, "name"),
                        f"cannot save the name {_got(start.name)}: a name in a file is a string",
                    )
                )
            fields["name"] = start.name
        import_path = _import_path_of(target)
        if import_path is None:
            problems.append(((*path, "start"), _start_problem_on_save(spec)))
        else:
            fields["start"] = StartRef(import_path, target)
        for index, arg in enumerate(spec.args):
            _args_problems(arg, (*path, "args", index), problems)
        fields["args"] = spec.args
        fields["type"] = None if spec.type is ChildType.WORKER else spec.type
        fields["liveness"] = _heartbeat_doc(spec.liveness)
    if len(problems) > before:
        return None
    return ChildDoc(id=spec.id, **fields)  # type: ignore[arg-type]  # id checked above


# --- TOML output --------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_SUBTABLES = ("liveness", "backoff", "report_limit", "template")


def _toml_string(text: str, path: KeyPath, problems: list[Problem]) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            problems.append((path, f"cannot write {text!r} as TOML: it has a lone surrogate"))
            return '""'
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_value(value: object, path: KeyPath, problems: list[Problem]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(float(value))
    if isinstance(value, str):
        return _toml_string(str(value), path, problems)
    if isinstance(value, list):
        items = [_toml_value(item, (*path, index), problems) for index, item in enumerate(value)]
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        pairs = [
            f"{_toml_key(str(key), path, problems)} = {_toml_value(item, (*path, key), problems)}"
            for key, item in value.items()
        ]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    problems.append((path, f"cannot write {_got(value)} as TOML (TOML has no null); use JSON"))
    return '""'


def _toml_key(key: str, path: KeyPath, problems: list[Problem]) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key, path, problems)


def _toml_table(
    table: Mapping[str, Any],
    header: tuple[str, ...],
    path: KeyPath,
    lines: list[str],
    problems: list[Problem],
) -> None:
    children = table.get("children")
    for key, value in table.items():
        if key in _SUBTABLES or (key == "children" and children):
            continue
        lines.append(f"{key} = {_toml_value(value, (*path, key), problems)}")
    for key in _SUBTABLES:
        if key in table:
            lines.extend(("", f"[{'.'.join((*header, key))}]"))
            _toml_table(table[key], (*header, key), (*path, key), lines, problems)
    for index, child in enumerate(children or ()):
        lines.extend(("", f"[[{'.'.join((*header, 'children'))}]]"))
        _toml_table(child, (*header, "children"), (*path, "children", index), lines, problems)


def _is_optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


# --- the tree -----------------------------------------------------------------------------


@final
@attrs.frozen(init=False)
class Tree:
    """A whole supervision tree as data: the root supervisor's flags and its children.

    Load one with :func:`load_tree`, :meth:`from_toml`, :meth:`from_json` or
    :meth:`from_dict`, or build one from child specs; save it with :meth:`to_dict`,
    :meth:`to_json` or :meth:`to_toml`; run it with :meth:`run` or :meth:`open`. Trees
    compare equal when their flags and child specs do, so loading what was saved gives an
    equal tree. The arguments are validated here, as :func:`otp.supervisor` would.

    Args:
        children: The root's child specs, in start order.
        strategy: ``"one_for_one"`` (default), ``"one_for_all"`` or ``"rest_for_one"``.
        intensity: Restarts allowed within any ``period`` seconds. Defaults to 3.
        period: The intensity window in seconds. Defaults to 5.
        backoff: An optional :class:`otp.Backoff` delaying each restart.
        auto_shutdown: ``"never"`` (default), ``"any_significant"`` or ``"all_significant"``.
        name: The root supervisor's name for reports.
        report_limit: The root's :class:`otp.ReportLimit` (100 reports a second by default),
            or ``None`` to log every report; ``max_reports = "infinity"`` in a file.

    Raises:
        ChildSpecError: A flag or the list of children is invalid.

    Example::

        tree = otp.Tree(
            [otp.ChildSpec("db", db_worker), otp.supervisor_spec("workers", workers)],
            strategy="rest_for_one",
            name="shop",
        )
        async with tree.open() as sup:
            ...
    """

    children: tuple[ChildSpec, ...]
    strategy: Strategy
    intensity: int
    period: float
    backoff: Backoff | None
    auto_shutdown: AutoShutdown
    name: str | None
    report_limit: ReportLimit | None

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: StrategyLike = Strategy.ONE_FOR_ONE,
        intensity: int = 3,
        period: float = 5.0,
        backoff: Backoff | None = None,
        auto_shutdown: AutoShutdownLike = AutoShutdown.NEVER,
        name: str | None = None,
        report_limit: ReportLimit | None = DEFAULT_REPORT_LIMIT,
    ) -> None:
        if not _is_optional_str(name):
            msg = f"tree: name must be a string or None (got {_got(name)})"
            raise ChildSpecError(msg)
        flags = make_flags(
            name,
            strategy=strategy,
            intensity=intensity,
            period=period,
            backoff=backoff,
            auto_shutdown=auto_shutdown,
            report_limit=report_limit,
        )
        specs = check_child_specs(children, auto_shutdown=flags.auto_shutdown, supervisor=name)
        self.__attrs_init__(
            specs,
            flags.strategy,
            flags.intensity,
            flags.period,
            flags.backoff,
            flags.auto_shutdown,
            name,
            flags.report_limit,
        )

    # --- loading --------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tree:
        """Load a tree from plain data: dicts, lists, strings, numbers and booleans.

        Every ``start`` is imported now. Unknown keys are errors.

        Raises:
            TreeError: Listing every problem found, each with the path of its key.

        Example::

            tree = otp.Tree.from_dict(
                {"strategy": "one_for_all", "children": [{"id": "db", "start": "shop.db:pool"}]}
            )
        """
        return _load(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Tree:
        """Load a tree from JSON text (an object, with the keys of the TOML format).

        Raises:
            TreeError: The text is not JSON, or the problems :meth:`from_dict` finds.

        Example::

            tree = otp.Tree.from_json('{"children": [{"id": "db", "start": "shop.db:pool"}]}')
        """
        return _load(_parse_json(text))

    @classmethod
    def from_toml(cls, text: str) -> Tree:
        """Load a tree from TOML text.

        Raises:
            TreeError: The text is not TOML, or the problems :meth:`from_dict` finds.

        Example::

            tree = otp.Tree.from_toml('''
            strategy = "rest_for_one"

            [[children]]
            id = "db"
            start = "shop.db:pool"
            ''')
        """
        return _load(_parse_toml(text))

    # --- saving ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The tree as plain data, the inverse of :meth:`from_dict`.

        Values equal to the library's defaults are left out. A start must have an import
        path that leads back to it: a module-level async function, or an
        :class:`otp.GenServer` subclass (with its registered ``name``).

        A spec whose start is a server class itself is saved as its class's import path, and
        loads back as the equivalent ``Server.child_spec(...)``.

        Raises:
            TreeError: Listing every child that cannot be saved: a lambda, a closure or a
                :func:`functools.partial` as start, a nested supervisor with hooks, args
                that are not plain data (a tuple inside args, say).

        Example::

            >>> otp.Tree([otp.ChildSpec("db", shop.db.pool, restart="transient")]).to_dict()
            {'children': [{'id': 'db', 'start': 'shop.db:pool', 'restart': 'transient'}]}
        """
        problems: list[Problem] = []
        docs = [
            _child_doc(spec, ("children", index), problems)
            for index, spec in enumerate(self.children)
        ]
        if problems:
            raise TreeError(_render(problems))
        flags = SupervisorFlags(
            self.strategy,
            self.intensity,
            self.period,
            self.backoff,
            self.auto_shutdown,
            report_limit=self.report_limit,
        )
        doc = TreeDoc(
            name=self.name,
            children=tuple(doc for doc in docs if doc is not None),
            **_flag_values(flags, _STATIC_DEFAULTS),
        )
        result: dict[str, Any] = _converter.unstructure(doc)
        return result

    def to_json(self, *, indent: int | None = 2) -> str:
        """The tree as JSON text, the inverse of :meth:`from_json`.

        Raises:
            TreeError: As :meth:`to_dict`.

        Example::

            Path("shop.json").write_text(tree.to_json())
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def to_toml(self) -> str:
        """The tree as TOML text, the inverse of :meth:`from_toml`.

        Raises:
            TreeError: As :meth:`to_dict`; also for a ``None`` in args (TOML has no null).

        Example::

            Path("shop.toml").write_text(tree.to_toml())
        """
        lines: list[str] = []
        problems: list[Problem] = []
        _toml_table(self.to_dict(), (), (), lines, problems)
        if problems:
            raise TreeError(_render(problems))
        return "\n".join(lines).lstrip("\n") + "\n"

    # --- running --------------------------------------------------------------------------

    async def run(
        self,
        *,
        hooks: Sequence[Hook] = (),
        random: RandomSource | None = None,
        task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the tree's root supervisor: :func:`otp.supervisor` with the tree's flags.

        Start it with ``nursery.start``; it passes the root's :class:`otp.Supervisor` to
        ``task_status.started()`` once every child has started. ``hooks`` (inherited by the
        nested supervisors) and ``random`` are passed through: they are not data.

        Example::

            async with trio.open_nursery() as nursery:
                sup = await nursery.start(functools.partial(tree.run, hooks=[print]))
        """
        await supervisor(
            self.children,
            strategy=self.strategy,
            intensity=self.intensity,
            period=self.period,
            backoff=self.backoff,
            auto_shutdown=self.auto_shutdown,
            name=self.name,
            hooks=hooks,
            random=random,
            report_limit=self.report_limit,
            task_status=task_status,
        )

    @asynccontextmanager
    async def open(
        self, *, hooks: Sequence[Hook] = (), random: RandomSource | None = None
    ) -> AsyncIterator[Supervisor]:
        """Run the tree for the duration of an ``async with`` block.

        See :func:`otp.open_supervisor`; the options are those of :meth:`run`.

        Example::

            async with otp.load_tree("shop.toml").open(hooks=[print]) as sup:
                await trio.sleep_forever()
        """
        async with open_supervisor(
            self.children,
            strategy=self.strategy,
            intensity=self.intensity,
            period=self.period,
            backoff=self.backoff,
            auto_shutdown=self.auto_shutdown,
            name=self.name,
            hooks=hooks,
            random=random,
            report_limit=self.report_limit,
        ) as sup:
            yield sup


def load_tree(path: str | os.PathLike[str]) -> Tree:
    """Load a tree from a ``.toml`` or ``.json`` file (the suffix says which).

    Every ``start`` is imported, which runs its module's code: load trees only from files
    you would trust as code.

    Raises:
        TreeError: The suffix is neither, the file does not parse, or it has problems; the
            error's ``source`` is the file's path.
        OSError: The file cannot be read.

    Example::

        tree = otp.load_tree("shop.toml")
        async with trio.open_nursery() as nursery:
            sup = await nursery.start(tree.run)
    """
    file = Path(path)
    suffix = file.suffix.lower()
    parse = {".toml": _parse_toml, ".json": _parse_json}.get(suffix)
    if parse is None:
        msg = f"cannot tell the format from the suffix {file.suffix!r}: use .toml or .json"
        raise TreeError([msg], str(path))
    data = file.read_bytes()
    try:
        return _load(parse(data))
    except TreeError as exc:
        raise TreeError(exc.problems, str(path)) from None
