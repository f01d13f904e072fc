"""Dynamic supervisors: one template, children started on demand."""

from __future__ import annotations

import functools
import math
from collections import Counter

import pytest
import trio

import otp

from .harness import Recorder, settle


class Pool:
    """A template child that takes an extra argument and obeys orders per argument."""

    def __init__(self) -> None:
        self.starts: Counter[object] = Counter()
        self.orders: dict[object, trio.MemorySendChannel[str]] = {}
        self.fail: set[object] = set()
        self.ignore: set[object] = set()

    async def worker(
        self, prefix: str, key: object, *, task_status: trio.TaskStatus[object]
    ) -> None:
        self.starts[key] += 1
        if key in self.fail:
            raise RuntimeError(f"{key} cannot start")
        if key in self.ignore:
            raise otp.Ignore
        send, receive = trio.open_memory_channel[str](math.inf)
        self.orders[key] = send
        task_status.started(f"{prefix}-{key}")
        order = await receive.receive()
        if order == "crash":
            raise RuntimeError(f"{key} crashed")

    def template(self, **options: object) -> otp.ChildSpec:
        return otp.ChildSpec("worker", self.worker, ("w",), **options)  # type: ignore[arg-type]


async def test_start_child_appends_extra_args_to_the_template_args() -> None:
    pool = Pool()
    async with otp.open_dynamic_supervisor(pool.template()) as sup:
        assert sup.which_children() == []
        child = await sup.start_child(1)
        assert child is not None
        assert child.value == "w-1"
        assert child.args == ("w", 1)
        assert child.id == "worker"
        assert sup.get_childspec(child).args == ("w", 1)
        assert sup.count_children() == otp.ChildCounts(specs=1, active=1, supervisors=0, workers=1)


async def test_each_child_restarts_on_its_own_with_its_own_args() -> None:
    pool = Pool()
    async with otp.open_dynamic_supervisor(pool.template()) as sup:
        for key in (1, 2, 3):
            await sup.start_child(key)
        pool.orders[2].send_nowait("crash")
        await settle()
        assert pool.starts == {1: 1, 2: 2, 3: 1}
        values = sorted(info.child.value for info in sup.which_children() if info.child)
        assert values == ["w-1", "w-2", "w-3"]


async def test_temporary_and_transient_children_leave_when_done() -> None:
    pool = Pool()
    async with otp.open_dynamic_supervisor(pool.template(restart="transient")) as sup:
        await sup.start_child("a")
        await sup.start_child("b")
        pool.orders["a"].send_nowait("return")
        pool.orders["b"].send_nowait("crash")
        await settle()
        assert [info.child.value for info in sup.which_children() if info.child] == ["w-b"]
        assert pool.starts == {"a": 1, "b": 2}


async def test_start_failure_is_unwrapped_and_stores_nothing() -> None:
    pool = Pool()
    pool.fail.add("x")
    async with otp.open_dynamic_supervisor(pool.template()) as sup:
        with pytest.raises(otp.StartError) as info:
            await sup.start_child("x")
        assert info.value.spec is None
        assert isinstance(info.value.__cause__, RuntimeError)
        assert sup.which_children() == []


async def test_ignore_returns_none_and_stores_nothing() -> None:
    pool = Pool()
    pool.ignore.add("x")
    async with otp.open_dynamic_supervisor(pool.template()) as sup:
        assert await sup.start_child("x") is None
        assert sup.count_children().workers == 0


async def test_a_restart_that_ignores_drops_the_child() -> None:
    pool = Pool()
    async with otp.open_dynamic_supervisor(pool.template()) as sup:
        await sup.start_child("x")
        pool.ignore.add("x")
        pool.orders["x"].send_nowait("crash")
        await settle()
        assert sup.which_children() == []


async def test_max_children() -> None:
    pool = Pool()
    async with otp.open_dynamic_supervisor(pool.template(), max_children=2) as sup:
        await sup.start_child(1)
        await sup.start_child(2)
        with pytest.raises(otp.MaxChildrenReached, match="max_children=2"):
            await sup.start_child(3)
        [first, *_] = sup.which_children()
        assert first.child is not None
        await sup.terminate_child(first.child)
        await sup.start_child(3)


async def test_terminate_child_by_handle_or_started_value() -> None:
    pool = Pool()
    recorder = Recorder()
    async with otp.open_dynamic_supervisor(pool.template(), hooks=[recorder]) as sup:
        one = await sup.start_child(1)
        two = await sup.start_child(2)
        assert one is not None
        assert two is not None
        await sup.terminate_child(one)
        await sup.terminate_child(two.value)  # the very object it passed to started()
        assert sup.which_children() == []
        assert pool.starts == {1: 1, 2: 1}  # not restarted, and not charged
        assert sup._intensity.restarts_in_window(trio.current_time()) == 0
        assert recorder.of(otp.ChildExited) == []
        await sup.terminate_child(one)  # an ended handle is fine, as in Erlang
        with pytest.raises(otp.ChildNotFound, match="identify children by handle"):
            await sup.terminate_child("worker")  # an id is not a handle


async def test_terminate_child_of_another_supervisor_is_not_found() -> None:
    pool = Pool()
    async with (
        otp.open_dynamic_supervisor(pool.template()) as first,
        otp.open_dynamic_supervisor(pool.template()) as second,
    ):
        child = await first.start_child(1)
        assert child is not None
        with pytest.raises(otp.ChildNotFound):
            await second.terminate_child(child)


async def test_terminate_child_cancels_a_pending_restart_at_once() -> None:
    pool = Pool()
    backoff = otp.Backoff(min=60.0, max=60.0)
    async with otp.open_dynamic_supervisor(pool.template(), backoff=backoff) as sup:
        child = await sup.start_child(1)
        assert child is not None
        pool.orders[1].send_nowait("crash")
        await settle()
        [info] = sup.which_children()
        assert info.state is otp.ChildState.RESTARTING
        assert sup.count_children() == otp.ChildCounts(1, 0, 0, 1)
        start = trio.current_time()
        await sup.terminate_child(child)  # the latest incarnation's handle
        assert trio.current_time() == start
        assert sup.which_children() == []
        await trio.sleep(120)
        assert pool.starts[1] == 1


async def test_failed_restart_is_charged_and_retried() -> None:
    pool = Pool()
    recorder = Recorder()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with otp.open_dynamic_supervisor(
            pool.template(), intensity=3, hooks=[recorder]
        ) as sup:
            await sup.start_child("x")
            pool.fail.add("x")
            pool.orders["x"].send_nowait("crash")
            await sup.wait()
    # 1 first start + 3 restart attempts, then the 4th charge gives up (Erlang: same)
    assert pool.starts["x"] == 4
    assert len(recorder.of(otp.ChildStartFailed)) == 3


async def test_dynamic_supervisor_gives_up_and_escalates() -> None:
    pool = Pool()
    with pytest.RaisesGroup(otp.RestartIntensityExceeded):
        async with trio.open_nursery() as nursery:
            sup = await nursery.start(
                functools.partial(otp.dynamic_supervisor, pool.template(), intensity=1)
            )
            await sup.start_child(1)
            await sup.start_child(2)
            pool.orders[1].send_nowait("crash")
            await settle()
            pool.orders[2].send_nowait("crash")


async def test_nested_dynamic_supervisor_spec() -> None:
    pool = Pool()
    tree = [otp.dynamic_supervisor_spec("pool", pool.template(), max_children=5)]
    async with otp.open_supervisor(tree) as sup:
        child = sup.get_child("pool")
        assert child is not None
        dynamic = child.value
        assert isinstance(dynamic, otp.DynamicSupervisor)
        assert dynamic.name == "supervisor/pool"
        await dynamic.start_child(1)
        assert sup.get_childspec("pool").type is otp.ChildType.SUPERVISOR
    assert not dynamic.running


async def test_template_validation() -> None:
    with pytest.raises(otp.ChildSpecError, match="template must be a ChildSpec"):
        async with otp.open_dynamic_supervisor("nope"):  # type: ignore[arg-type]
            pass  # pragma: no cover
    pool = Pool()
    with pytest.raises(otp.ChildSpecError, match="template is significant"):
        otp.dynamic_supervisor_spec("p", pool.template(restart="temporary", significant=True))
    with pytest.raises(otp.ChildSpecError, match="max_children"):
        otp.dynamic_supervisor_spec("p", pool.template(), max_children=0)


async def test_auto_shutdown_all_significant_when_the_last_child_leaves() -> None:
    pool = Pool()
    template = pool.template(restart="transient", significant=True)
    async with otp.open_dynamic_supervisor(template, auto_shutdown="all_significant") as sup:
        await sup.start_child(1)
        await sup.start_child(2)
        pool.orders[1].send_nowait("return")
        await settle()
        assert sup.running
        pool.orders[2].send_nowait("return")
        await sup.wait()
        assert not sup.running


async def test_repr() -> None:
    pool = Pool()
    async with otp.open_dynamic_supervisor(pool.template(), name="pool") as sup:
        await sup.start_child(1)
        assert repr(sup) == "<otp.DynamicSupervisor 'pool' (1 children, running)>"


async def test_get_childspec_takes_a_child_and_gives_its_spec_with_its_extra_args() -> None:
    # Erlang's get_childspec(Sup, Pid) on a simple_one_for_one supervisor.
    pool = Pool()
    async with otp.open_dynamic_supervisor(pool.template(restart="transient")) as sup:
        first = await sup.start_child(1)
        second = await sup.start_child(2)
        assert first is not None
        assert second is not None
        spec = sup.get_childspec(first)
        assert spec.args == ("w", 1)
        assert (spec.id, spec.start, spec.restart) == (
            sup.template.id,
            sup.template.start,
            otp.Restart.TRANSIENT,
        )
        assert sup.get_childspec(second.value).args == ("w", 2)  # by started value too
        await sup.terminate_child(first)
        with pytest.raises(otp.ChildNotFound, match="has ended"):
            sup.get_childspec(first)
        with pytest.raises(otp.ChildNotFound):
            sup.get_childspec("nobody's value")
