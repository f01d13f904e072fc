"""A hypothesis state machine: a live supervisor against a small pure model of its accounting.

Each example draws a supervisor (strategy, intensity, period, children and their restart
types), then a sequence of steps (crash, normal exit, terminate_child, restart_child, and
waits of chosen virtual durations). After every step the supervisor's children, start counts
and fate (running or given up) must be exactly what the model predicts.
"""

from __future__ import annotations

import functools
from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otp

from .harness import Harness, settle


class Model:
    """Erlang/OTP's restart accounting, written as plainly as possible."""

    def __init__(
        self, strategy: str, intensity: int, period: float, restarts: dict[str, str]
    ) -> None:
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self.restart = dict(restarts)
        self.order = list(restarts)  # start order; temporary children drop out
        self.running = dict.fromkeys(restarts, True)
        self.starts = dict.fromkeys(restarts, 1)
        self.history: list[float] = []
        self.gave_up = False

    def group(self, child: str) -> list[str]:
        if self.strategy == "one_for_one":
            return [child]
        if self.strategy == "one_for_all":
            return list(self.order)
        return self.order[self.order.index(child) :]

    def exit(self, child: str, *, abnormal: bool, now: float) -> None:
        restart = self.restart[child]
        self.running[child] = False
        if restart == "temporary" or (restart == "transient" and not abnormal):
            if restart == "temporary":
                self.order.remove(child)
            return
        self.history.append(now)
        recent = [t for t in self.history if t >= now - self.period]
        if len(recent) > self.intensity:
            self.gave_up = True
            for other in self.order:
                self.running[other] = False
            return
        group = self.group(child)
        for member in group:
            if member != child and self.restart[member] == "temporary" and self.running[member]:
                self.order.remove(member)
                self.running[member] = False
        for member in group:
            if member in self.order:
                self.running[member] = True
                self.starts[member] += 1

    def terminate(self, child: str) -> None:
        self.running[child] = False
        if self.restart[child] == "temporary":
            self.order.remove(child)

    def restart_child(self, child: str) -> None:
        self.running[child] = True
        self.starts[child] += 1


def run_machine(data: st.DataObject) -> None:
    names = [f"c{n}" for n in range(data.draw(st.integers(1, 4), label="children"))]
    restarts = {
        name: data.draw(st.sampled_from(["permanent", "transient", "temporary"]), label=name)
        for name in names
    }
    strategy = data.draw(st.sampled_from(["one_for_one", "one_for_all", "rest_for_one"]))
    intensity = data.draw(st.integers(0, 3), label="intensity")
    period = data.draw(st.sampled_from([1.0, 2.0, 5.0]), label="period")
    model = Model(strategy, intensity, period, restarts)
    harness = Harness()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            sup: otp.Supervisor = await nursery.start(
                functools.partial(
                    otp.supervisor,
                    [harness.spec(name, restart=restarts[name]) for name in names],
                    strategy=strategy,
                    intensity=intensity,
                    period=period,
                )
            )
            try:
                for _ in range(data.draw(st.integers(1, 25), label="steps")):
                    await step(sup)
                    check(sup)
                    if model.gave_up:
                        return
            finally:
                sup.stop_nowait()

    async def step(sup: otp.Supervisor) -> None:
        running = [name for name in model.order if model.running[name]]
        stopped = [name for name in model.order if not model.running[name]]
        choices = ["wait"]
        if running:
            choices += ["crash", "finish", "terminate"]
        if stopped:
            choices.append("restart")
        action = data.draw(st.sampled_from(choices), label="action")
        if action == "wait":
            delay = data.draw(st.sampled_from([0.0, 0.25, period / 2, period, period + 0.5]))
            await trio.sleep(delay)
            return
        if action == "restart":
            child = data.draw(st.sampled_from(stopped), label="restart")
            await sup.restart_child(child)
            model.restart_child(child)
            return
        child = data.draw(st.sampled_from(running), label=action)
        now = trio.current_time()
        if action == "terminate":
            await sup.terminate_child(child)
            model.terminate(child)
            return
        if action == "crash":
            harness.crash(child)
        else:
            harness.finish(child)
        model.exit(child, abnormal=action == "crash", now=now)
        await settle()

    def check(sup: otp.Supervisor) -> None:
        assert dict(harness.starts) == {
            name: count for name, count in model.starts.items() if count
        }, model.__dict__
        if model.gave_up:
            assert not sup.running
            return
        assert sup.running
        seen = {info.id: info.state is otp.ChildState.RUNNING for info in sup.which_children()}
        expected = {name: model.running[name] for name in model.order}
        assert seen == expected
        assert [info.id for info in sup.which_children()] == list(reversed(model.order))

    failures: list[BaseExceptionGroup[BaseException]] = []
    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    except BaseExceptionGroup as group:
        failures.append(group)
    # Only a supervisor that gave up may end the run with an error, and only that one.
    assert bool(failures) == model.gave_up
    for group in failures:
        assert group.split(otp.RestartIntensityExceeded)[1] is None


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_supervisor_matches_the_model(data: Any) -> None:
    run_machine(data)
