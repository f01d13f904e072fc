import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from otp import RestartIntensity


def decisions(window, times):
    return [window.add_restart(t) for t in times]


def test_example_from_docs():
    assert decisions(RestartIntensity(intensity=2, period=5.0), [0.0, 1.0, 2.0]) == [
        True,
        True,
        False,
    ]


def test_attributes():
    window = RestartIntensity(intensity=3, period=2.5)
    assert window.intensity == 3
    assert window.period == 2.5
    assert window.restarts_in_window(0.0) == 0


@pytest.mark.parametrize("intensity", [1, 2, 3, 5, 10])
def test_exactly_intensity_restarts_allowed(intensity):
    window = RestartIntensity(intensity=intensity, period=5.0)
    times = [0.1 * i for i in range(intensity + 1)]
    assert decisions(window, times) == [True] * intensity + [False]


@pytest.mark.parametrize("intensity", [1, 2, 4])
def test_exactly_intensity_restarts_at_the_same_instant(intensity):
    window = RestartIntensity(intensity=intensity, period=5.0)
    assert decisions(window, [7.0] * (intensity + 1)) == [True] * intensity + [False]


def test_intensity_zero_refuses_the_first():
    assert RestartIntensity(intensity=0, period=5.0).add_restart(0.0) is False
    assert RestartIntensity(intensity=0, period=5.0).add_restart(1e6) is False


def test_intensity_one():
    assert decisions(RestartIntensity(intensity=1, period=5.0), [0.0, 4.9]) == [True, False]


@pytest.mark.parametrize("intensity", [1, 2, 3])
def test_spaced_just_over_period_never_refused(intensity):
    period = 4.0
    window = RestartIntensity(intensity=intensity, period=period)
    gap = period + 2**-10
    assert decisions(window, [i * gap for i in range(200)]) == [True] * 200


@pytest.mark.parametrize("period", [0.1, 0.3, 1.7, 60.0])
def test_spaced_over_period_never_refused_float_periods(period):
    window = RestartIntensity(intensity=1, period=period)
    assert decisions(window, [i * period * 1.001 for i in range(300)]) == [True] * 300


def test_closed_window_boundary():
    # A restart exactly `period` after an earlier one still counts the earlier one.
    assert decisions(RestartIntensity(intensity=1, period=4.0), [0.0, 4.0]) == [True, False]
    assert decisions(RestartIntensity(intensity=2, period=5.0), [0.0, 1.0, 5.0]) == [
        True,
        True,
        False,
    ]


def test_just_past_boundary_drops_earlier():
    assert decisions(RestartIntensity(intensity=1, period=4.0), [0.0, 4.0 + 2**-40]) == [
        True,
        True,
    ]
    assert decisions(RestartIntensity(intensity=2, period=5.0), [0.0, 1.0, 5.5]) == [
        True,
        True,
        True,
    ]


def test_window_slides():
    window = RestartIntensity(intensity=2, period=10.0)
    assert decisions(window, [0.0, 1.0, 10.5, 11.5, 21.0, 22.0]) == [True] * 6
    assert window.add_restart(22.25) is False


def test_burst_after_quiet_period():
    window = RestartIntensity(intensity=3, period=1.0)
    assert decisions(window, [0.0, 0.25, 0.5]) == [True, True, True]
    assert decisions(window, [100.0, 100.0, 100.0]) == [True, True, True]
    assert window.add_restart(100.5) is False


def test_restarts_in_window():
    window = RestartIntensity(intensity=5, period=5.0)
    decisions(window, [0.0, 1.0, 2.0])
    assert window.restarts_in_window(2.0) == 3
    assert window.restarts_in_window(5.0) == 3
    assert window.restarts_in_window(5.5) == 2
    assert window.restarts_in_window(6.0) == 2
    assert window.restarts_in_window(7.0) == 1
    assert window.restarts_in_window(7.5) == 0
    assert window.restarts_in_window(100.0) == 0


def test_stored_stamps_bounded_while_sliding():
    window = RestartIntensity(intensity=2, period=1.0)
    for i in range(1000):
        assert window.add_restart(i * 0.6) is True
        assert len(window._stamps) <= 3


@pytest.mark.parametrize("intensity", [0, 1, 3])
def test_stored_stamps_never_exceed_intensity_plus_one(intensity):
    window = RestartIntensity(intensity=intensity, period=5.0)
    for i in range(20):
        window.add_restart(i * 0.01)
        assert len(window._stamps) <= intensity + 1


def test_refusals_continue_while_window_is_full():
    window = RestartIntensity(intensity=1, period=5.0)
    assert decisions(window, [0.0, 1.0, 2.0, 3.0]) == [True, False, False, False]


# --- model-based: RestartIntensity against a naive list of every restart time

PERIODS = st.one_of(
    st.sampled_from([0.1, 0.5, 1.0, 2.5, 4.0, 5.0]),
    st.floats(min_value=1e-3, max_value=1e3),
)


class RestartIntensityMachine(RuleBasedStateMachine):
    """Drives RestartIntensity with non-decreasing times; checks it against a naive model."""

    def __init__(self) -> None:
        super().__init__()
        self.window: RestartIntensity | None = None
        self.intensity = 0
        self.period = 1.0
        self.now = 0.0
        self.times: list[float] = []
        self.refused = False

    @initialize(
        intensity=st.integers(min_value=0, max_value=6),
        period=PERIODS,
        start=st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e6)),
    )
    def create(self, intensity, period, start):
        self.window = RestartIntensity(intensity=intensity, period=period)
        self.intensity = intensity
        self.period = period
        self.now = start

    def model_count(self, now):
        return sum(1 for t in self.times if t >= now - self.period)

    def restart_at(self, now):
        assert now >= self.now
        self.now = now
        self.times.append(now)
        expected = self.model_count(now) <= self.intensity
        actual = self.window.add_restart(now)
        assert actual is expected, (self.intensity, self.period, self.times)
        if not actual:
            # A supervisor would stop here; the class is pure, so keep driving it.
            self.refused = True

    @rule()
    def same_instant(self):
        self.restart_at(self.now)

    @rule(fraction=st.floats(min_value=0.0, max_value=3.0))
    def after_gap(self, fraction):
        self.restart_at(self.now + fraction * self.period)

    @rule()
    def after_exactly_period(self):
        self.restart_at(self.now + self.period)

    @rule()
    def just_after_period(self):
        self.restart_at(math.nextafter(self.now + self.period, math.inf))

    @rule()
    def just_before_period(self):
        self.restart_at(max(self.now, math.nextafter(self.now + self.period, 0.0)))

    @precondition(lambda self: len(self.times) >= 1)
    @rule(back=st.integers(min_value=0, max_value=6))
    def exactly_period_after_an_earlier_restart(self, back):
        earlier = self.times[max(0, len(self.times) - 1 - back)]
        self.restart_at(max(self.now, earlier + self.period))

    @rule(gap=st.floats(min_value=0.0, max_value=1e4))
    def after_absolute_gap(self, gap):
        self.restart_at(self.now + gap)

    @invariant()
    def counts_agree_until_first_refusal(self):
        if self.window is not None and not self.refused:
            assert self.window.restarts_in_window(self.now) == self.model_count(self.now)


class RestartIntensityBoundedMachine(RestartIntensityMachine):
    """The same, plus the documented bound on what is stored."""

    @invariant()
    def stores_at_most_intensity_plus_one(self):
        if self.window is not None:
            assert len(self.window._stamps) <= self.intensity + 1


TestRestartIntensityAgainstModel = RestartIntensityMachine.TestCase
TestRestartIntensityAgainstModel.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None
)

TestRestartIntensityStorageBound = RestartIntensityBoundedMachine.TestCase
TestRestartIntensityStorageBound.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None
)
