"""otp.config.apply_child_specs: a release-upgrade style diff applied to a live supervisor."""

from __future__ import annotations

import trio

import otp
from otp.config import apply_child_specs, diff_child_specs


async def worker(
    name: str, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    task_status.started(name)
    await trio.sleep_forever()


async def broken(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    raise RuntimeError("cannot start")


def spec(child_id: str, value: str | None = None) -> otp.ChildSpec:
    return otp.ChildSpec(child_id, worker, (value or child_id,))


def test_diff_by_id() -> None:
    diff = diff_child_specs(
        [spec("a"), spec("b"), spec("c")], [spec("a"), spec("b", "b2"), spec("d")]
    )
    assert [s.id for s in diff.added] == ["d"]
    assert [s.id for s in diff.removed] == ["c"]
    assert [s.id for s in diff.changed] == ["b"]
    assert diff.unchanged == ("a",)


async def test_apply_starts_stops_and_restarts_in_order() -> None:
    old = [spec("a"), spec("b"), spec("c"), spec("e")]
    new = [spec("a"), spec("b", "b2"), spec("d")]
    reports: list[object] = []
    events: list[otp.SupervisorEvent] = []
    async with otp.open_supervisor(old, hooks=[events.append]) as sup:
        started_a = sup.get_child("a")
        report = await apply_child_specs(sup, new, sink=reports.append)
        assert reports == [report]
        assert [(c.id, c.action, c.error) for c in report.changes] == [
            ("e", "stopped", None),
            ("c", "stopped", None),
            ("b", "restarted", None),
            ("d", "started", None),
        ]
        assert sup.get_child("a") is started_a  # unchanged: not restarted
        assert sup.get_child("b").value == "b2"  # type: ignore[union-attr]
        assert [info.id for info in sup.which_children()] == ["d", "b", "a"]
    terminated = [e.child_id for e in events if isinstance(e, otp.ChildTerminated)]
    assert terminated[:3] == ["e", "c", "b"]


async def test_a_failed_child_is_reported_restored_and_the_rest_applied() -> None:
    old = [spec("a"), spec("b")]
    new = [otp.ChildSpec("a", broken), spec("b"), spec("c")]
    async with otp.open_supervisor(old) as sup:
        report = await apply_child_specs(sup, new)
        (failed,) = report.failed
        assert (failed.id, failed.action, failed.restored) == ("a", "restarted", True)
        assert isinstance(failed.error, otp.StartError)
        assert sup.get_child("a").value == "a"  # type: ignore[union-attr]
        assert sup.get_child("c").value == "c"  # type: ignore[union-attr]
