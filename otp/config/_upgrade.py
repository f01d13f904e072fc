"""Apply changed child specs to a running supervisor, as an OTP release upgrade does.

Only the supervisor's public admin API is used. Order is fixed: removed children are stopped
and deleted in reverse of their old order, then the new list is walked in declared order,
changed children restarted with their new spec and new ones started. A restarted or new
child joins the end of the supervisor's start order (that is what ``start_child`` does). A
step that fails is reported and the rest still run; a changed child whose new spec fails to
start is started again from its old spec.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal, final

import attrs
import trio

from otp import ChildNotFound, ChildSpec, Supervisor, check_child_specs

__all__ = ["ChildSpecsApplied", "SpecChange", "SpecDiff", "apply_child_specs", "diff_child_specs"]

logger = logging.getLogger("otp.config")


@final
@attrs.frozen
class SpecDiff:
    """Old specs against new, by id: what to start, stop and restart.

    Example::

        diff = otp.config.diff_child_specs(old, new)
        print([spec.id for spec in diff.added])
    """

    added: tuple[ChildSpec, ...]
    removed: tuple[ChildSpec, ...]
    changed: tuple[ChildSpec, ...]
    """The new specs of children whose spec differs."""
    unchanged: tuple[Hashable, ...]


def diff_child_specs(old: Sequence[ChildSpec], new: Sequence[ChildSpec]) -> SpecDiff:
    """Compare two lists of child specs by id (both are checked first).

    Raises:
        ChildSpecError: A list has a bad spec or a duplicate id.

    Example::

        diff = otp.config.diff_child_specs([a, b], [a, b2, c])   # changed b, added c
    """
    before = {spec.id: spec for spec in check_child_specs(old)}
    after = check_child_specs(new)
    ids = {spec.id for spec in after}
    return SpecDiff(
        added=tuple(spec for spec in after if spec.id not in before),
        removed=tuple(spec for spec in before.values() if spec.id not in ids),
        changed=tuple(s for s in after if s.id in before and before[s.id] != s),
        unchanged=tuple(s.id for s in after if s.id in before and before[s.id] == s),
    )


@final
@attrs.frozen
class SpecChange:
    """One step of an upgrade: ``error`` is ``None`` if it worked.

    Example::

        for change in report.changes:
            print(change.id, change.action, change.error)
    """

    id: Hashable
    action: Literal["stopped", "started", "restarted"]
    error: BaseException | None = None
    restored: bool = False
    """Whether a failed restart started the old spec again."""


@final
@attrs.frozen
class ChildSpecsApplied:
    """The report of :func:`apply_child_specs` (also given to its ``sink``).

    Example::

        report = await otp.config.apply_child_specs(sup, new_specs)
        assert not report.failed
    """

    supervisor: str
    diff: SpecDiff
    changes: tuple[SpecChange, ...]
    time: float

    @property
    def failed(self) -> tuple[SpecChange, ...]:
        """The steps that failed."""
        return tuple(change for change in self.changes if change.error is not None)


async def _remove(sup: Supervisor, child_id: Hashable) -> None:
    await sup.terminate_child(child_id)
    with contextlib.suppress(ChildNotFound):  # a temporary child's spec goes when it stops
        await sup.delete_child(child_id)


async def apply_child_specs(
    sup: Supervisor,
    new: Sequence[ChildSpec],
    *,
    old: Sequence[ChildSpec] | None = None,
    sink: Callable[[Any], None] | None = None,
) -> ChildSpecsApplied:
    """Bring a running static supervisor from ``old`` specs to ``new`` ones.

    Args:
        sup: The running supervisor.
        new: The specs it should have.
        old: The specs it has (by default, its current specs in start order).
        sink: Called with the :class:`ChildSpecsApplied` report.

    Example::

        report = await otp.config.apply_child_specs(sup, new_specs, sink=events.append)
    """
    if old is None:
        old = [sup.get_childspec(info.id) for info in reversed(sup.which_children())]
    diff = diff_child_specs(old, new)
    changes: list[SpecChange] = []
    for spec in reversed(diff.removed):
        try:
            await _remove(sup, spec.id)
        except Exception as exc:  # noqa: BLE001  (reported; the other children go on)
            changes.append(SpecChange(spec.id, "stopped", exc))
        else:
            changes.append(SpecChange(spec.id, "stopped"))
    changed = {spec.id for spec in diff.changed}
    added = {spec.id for spec in diff.added}
    previous = {spec.id: spec for spec in old}
    for spec in new:
        if spec.id not in changed and spec.id not in added:
            continue
        action: Literal["started", "restarted"] = "restarted" if spec.id in changed else "started"
        try:
            if action == "restarted":
                await _remove(sup, spec.id)
            await sup.start_child(spec)
        except Exception as exc:  # noqa: BLE001  (reported; the other children go on)
            restored = False
            if action == "restarted":
                try:
                    await sup.start_child(previous[spec.id])
                    restored = True
                except Exception:
                    logger.exception("could not restore child %r from its old spec", spec.id)
            changes.append(SpecChange(spec.id, action, exc, restored))
        else:
            changes.append(SpecChange(spec.id, action))
    report = ChildSpecsApplied(sup.name, diff, tuple(changes), trio.current_time())
    for change in report.failed:
        logger.warning(
            "supervisor %r: %s %r failed: %s", sup.name, change.action, change.id, change.error
        )
    if sink is not None:
        try:
            sink(report)
        except Exception:
            logger.exception("child spec sink %r failed on %s", sink, report)
    return report
