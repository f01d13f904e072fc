"""The fault plan of a run: the default seeded one, one drawn from inline rates, or a file.

A random plan is drawn kind by kind with :meth:`otp.testing.FaultPlan.random`, each kind over
the targets it makes sense for, so that every fault in it can take effect:

* ``hang`` only hits children with a liveness contract (without one, nothing would ever
  notice the hang but the clients' timeouts);
* ``slow`` only hits named servers (it slows a server's messages, and the named ones are
  what the clients call);
* ``cancel_restart`` only hits children of nested supervisors (it stops the target's
  supervisor from above, and the root has nothing above it);
* every other kind hits any server or worker.
"""

from __future__ import annotations

import json
import math
import random
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from otp.testing import Fault, FaultKind, FaultPlan

from ._errors import UsageError
from ._layout import Layout, PathInfo

__all__ = ["DEFAULT_RATES", "load_faults", "parse_rates", "quiet_tail", "random_plan"]

DEFAULT_RATES: Mapping[FaultKind, float] = {
    FaultKind.CRASH: 0.3,
    FaultKind.EXIT: 0.1,
    FaultKind.HANG: 0.15,
    FaultKind.SLOW: 0.1,
    FaultKind.FAIL_START: 0.1,
    FaultKind.FAIL_TERMINATE: 0.1,
    FaultKind.CANCEL_RESTART: 0.1,
}
"""Faults per second across the whole tree: about 19 in the default 20 s run."""

_FAULT_KEYS = ("at", "kind", "target", "delay", "duration")
_KINDS = ", ".join(kind.value for kind in FaultKind)


def targets_for(kind: FaultKind, layout: Layout) -> list[str]:
    """The paths a random fault of ``kind`` may hit (see the module docstring)."""
    eligible: list[PathInfo] = layout.fault_targets()
    if kind is FaultKind.HANG:
        eligible = [info for info in eligible if info.liveness]
    elif kind is FaultKind.SLOW:
        eligible = layout.named_servers()
    elif kind is FaultKind.CANCEL_RESTART:
        eligible = [info for info in eligible if not info.under_root]
    return [info.path for info in eligible]


_WHY_NO_TARGET = {
    FaultKind.HANG: "it needs a child with liveness (a Heartbeat), so the hang can be noticed",
    FaultKind.SLOW: "it needs a named server",
    FaultKind.CANCEL_RESTART: "it needs a child of a nested supervisor",
}


def quiet_tail(duration: float) -> float:
    """The end of a run that a random plan leaves free of faults: 10% of it, at most 2 s.

    A hang takes about a second to be noticed by liveness; a fault in the last moments of
    the run could not be seen to recover, and would read as a failure of the tree.
    """
    return min(2.0, duration / 10)


def random_plan(
    layout: Layout,
    rates: Mapping[FaultKind, float],
    *,
    seed: int,
    duration: float,
    strict: bool,
) -> FaultPlan:
    """Draw a plan from per-second ``rates``: the same seed gives the same plan.

    Each kind is drawn on its own, from a seed derived from ``seed`` and the kind, so that
    changing one kind's rate leaves the other kinds' faults where they were. Faults are drawn
    over the run minus a quiet tail (:func:`quiet_tail`), so that the last of them have time
    to recover before the run ends.

    Raises:
        UsageError: With ``strict``, a kind with a positive rate has no target in this tree
            (without it, such a kind is skipped: the default rates fit any tree).
    """
    window = duration - quiet_tail(duration)
    faults: list[Fault] = []
    for kind in FaultKind:  # a fixed order, so a seed always draws the same way
        rate = rates.get(kind, 0.0)
        if rate <= 0:
            continue
        targets = targets_for(kind, layout)
        if not targets:
            if strict:
                why = _WHY_NO_TARGET.get(kind, "the tree has no server or worker")
                msg = f"--faults: no target for {kind.value!r} in this tree: {why}"
                raise UsageError(msg)
            continue
        # random.Random seeded with a string hashes it with SHA-512: stable across runs and
        # unaffected by PYTHONHASHSEED.
        kind_seed = random.Random(f"{seed}:{kind.value}").randrange(2**32)
        plan = FaultPlan.random(targets, seed=kind_seed, duration=window, rates={kind: rate})
        faults.extend(plan.faults)
    return FaultPlan(tuple(faults), seed)


def parse_rates(text: str) -> dict[FaultKind, float]:
    """Parse inline rates: ``"crash=0.2,hang=0.05"`` (faults per second, per kind).

    Raises:
        UsageError: Naming the part that is wrong and what was expected.
    """
    rates: dict[FaultKind, float] = {}
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        name, equals, value = item.partition("=")
        if not equals:
            msg = f"--faults: expected KIND=RATE in {item!r} (e.g. crash=0.2,hang=0.05)"
            raise UsageError(msg)
        try:
            kind = FaultKind(name.strip())
        except ValueError:
            msg = f"--faults: {name.strip()!r} is not a fault kind (choose from {_KINDS})"
            raise UsageError(msg) from None
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate >= 0):
            msg = f"--faults: the rate of {kind.value!r} must be a number >= 0 (got {value!r})"
            raise UsageError(msg)
        rates[kind] = rate
    if not rates:
        msg = "--faults: no rates given (e.g. crash=0.2,hang=0.05)"
        raise UsageError(msg)
    return rates


def load_faults(path: Path) -> FaultPlan:
    """Load a list of faults from JSON or TOML (by suffix).

    JSON: a list of objects, or an object whose ``faults`` key holds the list. TOML: an array
    of tables named ``faults`` (``[[faults]]``). Each fault has ``at``, ``kind`` and
    ``target``, and optionally ``delay`` and ``duration``.

    Raises:
        UsageError: The file cannot be read or parsed, or an entry is wrong (its index and
            the problem are in the message).
    """
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        msg = f"--faults: cannot tell the format of {str(path)!r}: use a .json or .toml file"
        raise UsageError(msg)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"--faults: cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
        raise UsageError(msg) from None
    try:
        data: Any = json.loads(text) if suffix == ".json" else tomllib.loads(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are both ValueErrors
        msg = f"--faults: {path} is not valid {suffix[1:].upper()} ({exc})"
        raise UsageError(msg) from None
    if isinstance(data, dict):
        if set(data) != {"faults"}:
            msg = f"--faults: {path} must hold a list of faults under the key 'faults'"
            raise UsageError(msg)
        data = data["faults"]
    if not isinstance(data, list):
        msg = f"--faults: {path} must hold a list of faults (got {type(data).__name__})"
        raise UsageError(msg)
    return FaultPlan(tuple(_fault(entry, index, path) for index, entry in enumerate(data)))


def _fault(entry: object, index: int, path: Path) -> Fault:
    where = f"--faults: {path}: faults[{index}]"
    if not isinstance(entry, dict):
        msg = f"{where}: must be a table with at, kind and target (got {entry!r})"
        raise UsageError(msg)
    unknown = sorted(str(key) for key in entry if key not in _FAULT_KEYS)
    if unknown:
        msg = f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_FAULT_KEYS)})"
        raise UsageError(msg)
    missing = [key for key in ("at", "kind", "target") if key not in entry]
    if missing:
        msg = f"{where}: missing {', '.join(repr(key) for key in missing)}"
        raise UsageError(msg)
    options = {key: entry[key] for key in ("delay", "duration") if key in entry}
    try:
        return Fault(entry["at"], entry["kind"], entry["target"], **options)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None
