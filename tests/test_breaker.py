"""Circuit breakers: the pure core against a model, and the Trio wrapper's three forms."""

from __future__ import annotations

import doctest
import functools
import logging
import math
import types
from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel
import trio.testing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import otp
from otp import _breaker
from otp._breaker import (
    Admission,
    BreakerCallCancelled,
    BreakerCallFailed,
    BreakerCallIgnored,
    BreakerCallLate,
    BreakerCallRejected,
    BreakerCallSucceeded,
    BreakerCallTimedOut,
    BreakerConfig,
    BreakerConfigError,
    BreakerCore,
    BreakerError,
    BreakerEvent,
    BreakerGuard,
    BreakerState,
    BreakerStateChanged,
    BreakerStatistics,
    BreakerTimeout,
    CallOutcome,
    CircuitBreaker,
    CircuitOpen,
    Rejection,
)

CLOSED = BreakerState.CLOSED
OPEN = BreakerState.OPEN
HALF_OPEN = BreakerState.HALF_OPEN
SUCCESS = CallOutcome.SUCCESS
FAILURE = CallOutcome.FAILURE
TIMEOUT = CallOutcome.TIMEOUT
IGNORED = CallOutcome.IGNORED
CANCELLED = CallOutcome.CANCELLED


class Boom(Exception):
    """What protected calls raise in these tests."""


class FakeRandom:
    """Returns fixed values in turn and counts its calls."""

    def __init__(self, *values: float) -> None:
        self.values = list(values) or [0.0]
        self.calls = 0

    def __call__(self) -> float:
        value = self.values[self.calls % len(self.values)]
        self.calls += 1
        return value


class FakeClock:
    """A clock the test moves by hand; counts how often it is read."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def config_error(**kwargs: Any) -> str:
    with pytest.raises(BreakerConfigError) as info:
        BreakerConfig(**kwargs)
    return str(info.value)


def fail_times(core: BreakerCore, count: int, now: float = 0.0) -> BreakerState:
    state = core.state
    for _ in range(count):
        admission = core.admit(now)
        assert isinstance(admission, Admission)
        state = core.record(admission, FAILURE, now)
    return state


def stats_of(core: BreakerCore, now: float) -> dict[str, Any]:
    return attrs.asdict(core.statistics(now), recurse=False)


# --- configuration ----------------------------------------------------------------------------


def test_default_config() -> None:
    config = BreakerConfig()
    assert attrs.asdict(config) == {
        "failure_threshold": 5,
        "window_calls": None,
        "window_seconds": None,
        "window_buckets": 10,
        "failure_rate_threshold": 0.5,
        "minimum_calls": 10,
        "slow_call_duration": None,
        "slow_call_rate_threshold": 1.0,
        "reset_timeout": 30.0,
        "backoff_multiplier": 2.0,
        "max_reset_timeout": 300.0,
        "jitter": 0.0,
        "half_open_max_calls": 1,
        "success_threshold": 1,
        "max_half_open_duration": 60.0,
        "call_timeout": None,
        "exclude": (),
    }


def test_config_resolves_its_defaults() -> None:
    assert BreakerConfig(window_calls=20).minimum_calls == 20
    assert BreakerConfig(window_seconds=5.0).minimum_calls == 10
    assert BreakerConfig(window_calls=20, minimum_calls=5).minimum_calls == 5
    assert BreakerConfig(reset_timeout=2).max_reset_timeout == 20.0
    assert BreakerConfig(reset_timeout=1e308).max_reset_timeout == 1e308
    assert type(BreakerConfig(reset_timeout=2).reset_timeout) is float
    assert BreakerConfig(exclude=KeyError).exclude == (KeyError,)
    assert BreakerConfig(exclude=[KeyError, OSError]).exclude == (KeyError, OSError)


def test_config_is_frozen_and_evolves() -> None:
    config = BreakerConfig(window_calls=10, failure_threshold=None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.reset_timeout = 1.0  # type: ignore[misc]
    assert attrs.evolve(config, reset_timeout=1.0).reset_timeout == 1.0
    assert attrs.evolve(config) == config
    plain = BreakerConfig()
    assert attrs.evolve(plain, failure_threshold=2).failure_threshold == 2
    # The values a config without a window holds may be given explicitly.
    assert BreakerConfig(failure_rate_threshold=0.5, minimum_calls=10) == plain


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_threshold": 0}, "failure_threshold must be an int >= 1 or None (got 0)"),
        ({"failure_threshold": True}, "failure_threshold must be an int >= 1 or None (got True)"),
        ({"failure_threshold": 2.0}, "failure_threshold must be an int >= 1 or None (got 2.0)"),
        ({"window_calls": 0}, "window_calls must be an int >= 1 or None (got 0)"),
        (
            {"window_seconds": -1},
            "window_seconds must be a finite number > 0 or None (got -1)",
        ),
        (
            {"window_seconds": math.inf},
            "window_seconds must be a finite number > 0 or None (got inf)",
        ),
        (
            {"window_calls": 5, "window_seconds": 5.0},
            (
                "set at most one of window_calls and window_seconds "
                "(got window_calls=5, window_seconds=5.0)"
            ),
        ),
        ({"window_buckets": 0}, "window_buckets must be an int >= 1 (got 0)"),
        (
            {"failure_rate_threshold": 0.25},
            (
                "failure_rate_threshold needs a window: set window_calls or window_seconds "
                "(got failure_rate_threshold=0.25)"
            ),
        ),
        (
            {"minimum_calls": 3},
            (
                "minimum_calls needs a window: set window_calls or window_seconds "
                "(got minimum_calls=3)"
            ),
        ),
        (
            {"slow_call_duration": 1.0},
            (
                "slow_call_duration needs a window: set window_calls or window_seconds "
                "(got slow_call_duration=1.0)"
            ),
        ),
        (
            {"failure_threshold": None},
            (
                "no trip rule: set failure_threshold, window_calls or window_seconds "
                "(got failure_threshold=None and no window)"
            ),
        ),
        (
            {"window_calls": 5, "failure_rate_threshold": 0},
            "failure_rate_threshold must be a number in (0, 1] (got 0)",
        ),
        (
            {"window_calls": 5, "failure_rate_threshold": 1.5},
            "failure_rate_threshold must be a number in (0, 1] (got 1.5)",
        ),
        (
            {"window_calls": 5, "minimum_calls": 6},
            (
                "minimum_calls must be <= window_calls, or the rates are never evaluated "
                "(got minimum_calls=6, window_calls=5)"
            ),
        ),
        (
            {"window_calls": 5, "minimum_calls": 0},
            "minimum_calls must be an int >= 1 (got 0)",
        ),
        (
            {"window_calls": 5, "slow_call_rate_threshold": 0.5},
            "slow_call_rate_threshold needs slow_call_duration (got slow_call_rate_threshold=0.5)",
        ),
        (
            {"window_calls": 5, "slow_call_duration": 1, "slow_call_rate_threshold": 2},
            "slow_call_rate_threshold must be a number in (0, 1] (got 2)",
        ),
        ({"reset_timeout": 0}, "reset_timeout must be a finite number > 0 (got 0)"),
        ({"reset_timeout": math.nan}, "reset_timeout must be a finite number > 0 (got nan)"),
        ({"reset_timeout": 10**400}, f"reset_timeout must be a finite number > 0 (got {10**400})"),
        (
            {"backoff_multiplier": 0.5},
            "backoff_multiplier must be a finite number >= 1 (got 0.5)",
        ),
        (
            {"reset_timeout": 10, "max_reset_timeout": 5},
            (
                "max_reset_timeout must be >= reset_timeout "
                "(got reset_timeout=10, max_reset_timeout=5)"
            ),
        ),
        ({"max_reset_timeout": "60"}, "max_reset_timeout must be a finite number > 0 (got '60')"),
        ({"jitter": -0.1}, "jitter must be a finite number >= 0 (got -0.1)"),
        ({"half_open_max_calls": 0}, "half_open_max_calls must be an int >= 1 (got 0)"),
        ({"success_threshold": None}, "success_threshold must be an int >= 1 (got None)"),
        (
            {"max_half_open_duration": 0},
            "max_half_open_duration must be a finite number > 0 or None (got 0)",
        ),
        ({"call_timeout": -1}, "call_timeout must be a finite number > 0 or None (got -1)"),
        (
            {"exclude": "KeyError"},
            (
                "exclude must be an exception type, a predicate (a callable taking the exception), "
                "or a sequence of them (got 'KeyError')"
            ),
        ),
        (
            {"exclude": (KeyError, int)},
            (
                "exclude must be an exception type, a predicate (a callable taking the exception), "
                "or a sequence of them (got <class 'int'>)"
            ),
        ),
    ],
)
def test_config_validation_messages(kwargs: dict[str, Any], message: str) -> None:
    assert config_error(**kwargs) == f"BreakerConfig: {message}"


def test_config_error_is_an_otp_value_error() -> None:
    assert issubclass(BreakerConfigError, otp.OtpError)
    assert issubclass(BreakerConfigError, ValueError)
    assert not issubclass(BreakerConfigError, BreakerError)


def test_excludes_types_and_predicates(caplog: pytest.LogCaptureFixture) -> None:
    def broken(error: BaseException) -> bool:
        raise RuntimeError("predicate bug")

    config = BreakerConfig(exclude=(KeyError, broken, lambda e: "404" in str(e)))
    assert config.excludes(KeyError("k"))
    assert config.excludes(OSError("HTTP 404"))
    assert not config.excludes(OSError("HTTP 503"))
    assert any("exclude predicate" in r.getMessage() for r in caplog.records)


# --- exceptions -------------------------------------------------------------------------------


def test_exception_tree() -> None:
    assert issubclass(BreakerError, otp.OtpError)
    assert issubclass(CircuitOpen, BreakerError)
    assert issubclass(BreakerTimeout, BreakerError)
    assert issubclass(BreakerTimeout, TimeoutError)
    assert not issubclass(BreakerTimeout, otp.CallError)
    for cls in (CircuitOpen, BreakerTimeout, BreakerConfigError, CircuitBreaker, BreakerCore):
        assert getattr(cls, "__final__", False), cls


def test_circuit_open_messages() -> None:
    exc = CircuitOpen("db", OPEN, 12.34567)
    assert str(exc) == "circuit breaker 'db' is open; the next trial call is allowed in 12.346 s"
    assert (exc.breaker, exc.state, exc.retry_after) == ("db", OPEN, 12.34567)
    assert str(CircuitOpen("db", OPEN, math.inf)) == (
        "circuit breaker 'db' is held open until it is closed by hand"
    )
    assert str(CircuitOpen("db", HALF_OPEN, 0.0)) == (
        "circuit breaker 'db' is half-open and all its trial calls are in progress; a call may "
        "be admitted as soon as one ends"
    )
    timeout = BreakerTimeout("db", 2.5)
    assert str(timeout) == (
        "circuit breaker 'db': the call did not finish within its call_timeout of 2.5 s and was "
        "cancelled"
    )
    assert (timeout.breaker, timeout.timeout) == ("db", 2.5)


# --- the pure core: trip, open, half-open, close ------------------------------------------------


def test_consecutive_failures_trip_and_successes_reset_the_count() -> None:
    core = BreakerCore("db", BreakerConfig(failure_threshold=3))
    assert fail_times(core, 2) is CLOSED
    core.record(core.admit(0.0), SUCCESS, 0.0)  # type: ignore[arg-type]
    assert fail_times(core, 2) is CLOSED
    assert core.statistics(0.0).consecutive_failures == 2
    assert fail_times(core, 1, now=1.0) is OPEN
    stats = core.statistics(1.0)
    assert (stats.failures, stats.successes, stats.trips) == (5, 1, 1)


def test_ignored_and_cancelled_leave_the_count_alone() -> None:
    # pybreaker resets its failure counter on an excluded exception; here it is neutral.
    core = BreakerCore("db", BreakerConfig(failure_threshold=3))
    fail_times(core, 2)
    for outcome in (IGNORED, CANCELLED, IGNORED):
        core.record(core.admit(0.0), outcome, 0.0)  # type: ignore[arg-type]
    assert core.statistics(0.0).consecutive_failures == 2
    assert fail_times(core, 1) is OPEN


def test_timeouts_are_failures_counted_apart() -> None:
    core = BreakerCore("db", BreakerConfig(failure_threshold=2))
    core.record(core.admit(0.0), TIMEOUT, 0.0, duration=5.0)  # type: ignore[arg-type]
    assert core.record(core.admit(0.0), FAILURE, 0.0) is OPEN  # type: ignore[arg-type]
    stats = core.statistics(0.0)
    assert (stats.timeouts, stats.failures, stats.trips) == (1, 1, 1)


def test_open_rejects_with_the_time_left_then_half_opens_lazily() -> None:
    core = BreakerCore("db", BreakerConfig(failure_threshold=1, reset_timeout=10.0))
    fail_times(core, 1, now=100.0)
    rejection = core.admit(104.0)
    assert rejection == Rejection("db", OPEN, 6.0)
    assert isinstance(rejection, Rejection)
    error = rejection.exception()
    assert isinstance(error, CircuitOpen)
    assert str(error) == "circuit breaker 'db' is open; the next trial call is allowed in 6 s"
    assert core.state is OPEN  # nothing moves without a time passed in
    trial = core.admit(110.0)
    assert trial == Admission(core.episode, trial=True)
    assert core.state is HALF_OPEN
    assert core.statistics(110.0).rejections == 1


def test_half_open_admits_exactly_max_calls_and_returns_slots() -> None:
    core = BreakerCore(
        "db", BreakerConfig(failure_threshold=1, reset_timeout=1.0, half_open_max_calls=3)
    )
    fail_times(core, 1)
    results = [core.admit(1.0) for _ in range(5)]
    trials = [r for r in results if isinstance(r, Admission)]
    assert len(trials) == 3
    assert all(t.trial for t in trials)
    assert results[3:] == [Rejection("db", HALF_OPEN, 0.0)] * 2
    assert core.statistics(1.0).trial_calls == 3
    # An ignored or cancelled trial gives its slot back without deciding anything.
    core.record(trials[0], IGNORED, 1.5)
    core.record(trials[1], CANCELLED, 1.5)
    assert core.state is HALF_OPEN
    assert core.statistics(1.5).trial_calls == 1
    assert all(isinstance(core.admit(1.5), Admission) for _ in range(2))
    assert isinstance(core.admit(1.5), Rejection)


def test_success_threshold_closes_after_enough_trials_in_turn() -> None:
    core = BreakerCore(
        "db", BreakerConfig(failure_threshold=1, reset_timeout=1.0, success_threshold=3)
    )
    fail_times(core, 1)
    for step in range(3):
        trial = core.admit(1.0 + step)
        assert isinstance(trial, Admission)
        assert trial.trial
        state = core.record(trial, SUCCESS, 1.5 + step)
        assert state is (CLOSED if step == 2 else HALF_OPEN)
    assert core.statistics(5.0).trips == 1


def test_a_trial_failure_reopens_at_once_with_backoff() -> None:
    core = BreakerCore(
        "db",
        BreakerConfig(failure_threshold=1, reset_timeout=1.0, half_open_max_calls=2),
    )
    fail_times(core, 1)
    first, second = core.admit(1.0), core.admit(1.0)
    assert isinstance(first, Admission)
    assert isinstance(second, Admission)
    assert core.record(first, FAILURE, 1.25) is OPEN
    assert core.admit(1.25) == Rejection("db", OPEN, 2.0)  # 1.0 * 2 ** 1
    # The other trial's success comes back late: it cannot close the re-opened breaker.
    assert core.record(second, SUCCESS, 1.5) is OPEN
    assert core.statistics(1.5).late == 1


def test_a_slow_trial_success_counts_as_a_failed_trial() -> None:
    config = BreakerConfig(
        failure_threshold=1, window_calls=4, slow_call_duration=1.0, reset_timeout=1.0
    )
    core = BreakerCore("db", config)
    fail_times(core, 1)
    trial = core.admit(1.0)
    assert isinstance(trial, Admission)
    assert core.record(trial, SUCCESS, 3.0, duration=2.0) is OPEN
    stats = core.statistics(3.0)
    assert (stats.successes, stats.slow_calls, stats.trips) == (1, 1, 2)


def test_a_stuck_half_open_state_reopens_after_its_bound() -> None:
    config = BreakerConfig(failure_threshold=1, reset_timeout=1.0, max_half_open_duration=5.0)
    core = BreakerCore("db", config)
    fail_times(core, 1)
    stuck = core.admit(1.0)
    assert isinstance(stuck, Admission)
    assert core.admit(5.9) == Rejection("db", HALF_OPEN, 0.0)
    # At 6.0 the half-open state is 5 s old: it re-opens, for 2 s (the second trip).
    assert core.admit(6.0) == Rejection("db", OPEN, 2.0)
    assert core.statistics(6.0).trips == 2
    # The stuck trial finally succeeds: too late to close anything.
    assert core.record(stuck, SUCCESS, 7.0) is OPEN
    assert core.statistics(7.0).late == 1


def test_record_applies_the_half_open_bound_first() -> None:
    # No admission came in between: the trial that ends after the bound is still late.
    config = BreakerConfig(failure_threshold=1, reset_timeout=1.0, max_half_open_duration=5.0)
    core = BreakerCore("db", config)
    fail_times(core, 1)
    stuck = core.admit(1.0)
    assert isinstance(stuck, Admission)
    assert core.record(stuck, SUCCESS, 100.0) is OPEN
    assert core.statistics(100.0).late == 1


def test_no_half_open_bound() -> None:
    config = BreakerConfig(failure_threshold=1, reset_timeout=1.0, max_half_open_duration=None)
    core = BreakerCore("db", config)
    fail_times(core, 1)
    stuck = core.admit(1.0)
    assert core.admit(1e9) == Rejection("db", HALF_OPEN, 0.0)
    assert core.record(stuck, SUCCESS, 1e9) is CLOSED  # type: ignore[arg-type]


def test_late_results_from_a_closed_episode_change_nothing() -> None:
    core = BreakerCore("db", BreakerConfig(failure_threshold=2, reset_timeout=10.0))
    early = [core.admit(0.0) for _ in range(3)]
    assert all(isinstance(a, Admission) for a in early)
    fail_times(core, 2, now=1.0)
    assert core.state is OPEN
    # A late failure does not re-open (pybreaker moved opened_at and fired open -> open) ...
    assert core.record(early[0], FAILURE, 2.0) is OPEN  # type: ignore[arg-type]
    assert core.admit(2.0) == Rejection("db", OPEN, 9.0)
    # ... and a late success does not close.
    assert core.record(early[1], SUCCESS, 3.0) is OPEN  # type: ignore[arg-type]
    trial = core.admit(11.0)
    assert isinstance(trial, Admission)
    assert core.record(early[2], FAILURE, 11.5) is HALF_OPEN  # type: ignore[arg-type]
    stats = core.statistics(11.5)
    assert (stats.late, stats.failures, stats.successes, stats.trial_calls) == (3, 2, 0, 1)


def test_episodes_number_every_transition() -> None:
    core = BreakerCore("db", BreakerConfig(failure_threshold=1, reset_timeout=1.0))
    assert core.episode == 0
    fail_times(core, 1)
    assert core.episode == 1  # open
    assert core.poll(1.0) is HALF_OPEN
    assert core.episode == 2
    core.record(core.admit(1.0), SUCCESS, 1.0)  # type: ignore[arg-type]
    assert core.episode == 3  # closed
    core.reset(2.0)
    assert core.episode == 4  # a reset starts a new episode even when closed
    assert repr(core) == "<otp.BreakerCore 'db' closed episode=4>"


# --- backoff and jitter -----------------------------------------------------------------------


def open_periods(core: BreakerCore, trips: int, start: float = 0.0) -> list[float]:
    """Trip, then fail a trial ``trips - 1`` times; the open period of each trip."""
    periods = []
    now = start
    fail_times(core, core.config.failure_threshold or 1, now)
    for index in range(trips):
        rejection = core.admit(now)
        assert isinstance(rejection, Rejection)
        periods.append(rejection.retry_after)
        now += rejection.retry_after
        if index < trips - 1:
            trial = core.admit(now)
            assert isinstance(trial, Admission)
            core.record(trial, FAILURE, now)
    return periods


def test_reset_backoff_grows_caps_and_resets_on_close() -> None:
    config = BreakerConfig(
        failure_threshold=1, reset_timeout=1.0, backoff_multiplier=3.0, max_reset_timeout=20.0
    )
    core = BreakerCore("db", config)
    assert open_periods(core, 5) == [1.0, 3.0, 9.0, 20.0, 20.0]
    now = 1.0 + 3 + 9 + 20 + 20
    trial = core.admit(now)
    assert isinstance(trial, Admission)
    assert core.record(trial, SUCCESS, now) is CLOSED
    # Closed again: the next trip starts from reset_timeout.
    assert open_periods(core, 2, start=now) == [1.0, 3.0]
    assert core.statistics(now).trips == 7


def test_no_backoff_with_multiplier_one() -> None:
    config = BreakerConfig(failure_threshold=1, reset_timeout=5.0, backoff_multiplier=1.0)
    assert open_periods(BreakerCore("db", config), 4) == [5.0] * 4


def test_jitter_is_akkas_random_factor() -> None:
    config = BreakerConfig(
        failure_threshold=1, reset_timeout=2.0, backoff_multiplier=2.0, jitter=0.5
    )
    random = FakeRandom(0.0, 0.5, 0.999)
    core = BreakerCore("db", config, random=random)
    periods = open_periods(core, 3)
    assert periods == pytest.approx([2.0 * 1.0, 4.0 * 1.25, 8.0 * (1 + 0.5 * 0.999)])
    assert random.calls == 3


def test_no_jitter_never_calls_random() -> None:
    def random() -> float:
        raise AssertionError("random must not be called without jitter")

    core = BreakerCore("db", BreakerConfig(failure_threshold=1), random=random)
    assert open_periods(core, 3) == [30.0, 60.0, 120.0]


def test_the_default_backoff() -> None:
    core = BreakerCore("db", BreakerConfig(failure_threshold=1))
    assert open_periods(core, 6) == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]


# --- sliding windows --------------------------------------------------------------------------


def test_count_window_failure_rate_waits_for_minimum_calls() -> None:
    config = BreakerConfig(failure_threshold=None, window_calls=4, failure_rate_threshold=0.5)
    core = BreakerCore("db", config)
    assert fail_times(core, 3) is CLOSED  # 3 calls < minimum_calls (= window_calls = 4)
    assert core.statistics(0.0).failure_rate == 1.0
    # The fourth call is a success, and it trips the breaker: 3 of 4 failed.
    assert core.record(core.admit(0.0), SUCCESS, 0.0) is OPEN  # type: ignore[arg-type]


def test_count_window_forgets_the_oldest_call() -> None:
    config = BreakerConfig(
        failure_threshold=None, window_calls=4, minimum_calls=2, failure_rate_threshold=0.75
    )
    core = BreakerCore("db", config)
    outcomes = [FAILURE, SUCCESS, SUCCESS, SUCCESS, FAILURE, FAILURE, SUCCESS, FAILURE]
    states = [core.record(core.admit(0.0), o, 0.0) for o in outcomes]  # type: ignore[arg-type]
    # Windows after each call: F (1 call, not judged), FS, FSS, FSSS, SSSF, SSFF, SFFS, FFSF.
    assert states[-1] is OPEN
    assert all(state is CLOSED for state in states[:-1])


def test_rates_compare_exact_fractions() -> None:
    # 3 of 10 is 0.3, though 0.3 * 10 is 3.0000000000000004.
    config = BreakerConfig(failure_threshold=None, window_calls=10, failure_rate_threshold=0.3)
    core = BreakerCore("db", config)
    for outcome in [SUCCESS] * 7 + [FAILURE] * 2:
        core.record(core.admit(0.0), outcome, 0.0)  # type: ignore[arg-type]
    assert core.state is CLOSED
    assert fail_times(core, 1) is OPEN


def test_slow_call_rate_counts_slow_successes_and_failures() -> None:
    config = BreakerConfig(
        failure_threshold=None,
        window_calls=4,
        failure_rate_threshold=1.0,
        slow_call_duration=1.0,
        slow_call_rate_threshold=0.5,
    )
    core = BreakerCore("db", config)
    calls = [(SUCCESS, 0.5), (SUCCESS, 1.0), (SUCCESS, 1.5)]  # 1.0 is not slow (strictly >)
    for outcome, duration in calls:
        core.record(core.admit(0.0), outcome, 0.0, duration)  # type: ignore[arg-type]
    assert core.state is CLOSED
    stats = core.statistics(0.0)
    assert (stats.slow_calls, stats.slow_call_rate, stats.failure_rate) == (1, 1 / 3, 0.0)
    assert core.record(core.admit(0.0), FAILURE, 0.0, 3.0) is OPEN  # type: ignore[arg-type]
    events: list[BreakerEvent] = []
    core = BreakerCore("db", config, hooks=[events.append])
    for outcome, duration in [*calls, (FAILURE, 3.0)]:
        core.record(core.admit(0.0), outcome, 0.0, duration)  # type: ignore[arg-type]
    changed = [e for e in events if isinstance(e, BreakerStateChanged)]
    assert [e.reason for e in changed] == ["slow_call_rate"]


def test_time_window_forgets_old_buckets() -> None:
    config = BreakerConfig(
        failure_threshold=None,
        window_seconds=10.0,
        window_buckets=5,
        minimum_calls=3,
        failure_rate_threshold=0.5,
    )
    core = BreakerCore("db", config)
    fail_times(core, 2, now=0.5)  # bucket 0
    assert core.statistics(9.9).window_calls == 2  # buckets 0..4
    assert core.statistics(10.0).window_calls == 0  # bucket 5: bucket 0 has left
    assert core.statistics(10.0).failure_rate is None
    for outcome in (SUCCESS, SUCCESS, FAILURE):
        core.record(core.admit(11.0), outcome, 11.0)  # type: ignore[arg-type]
    # 1 of 3 failed; had the two old failures still counted, 3 of 5 would have tripped it.
    assert core.state is CLOSED
    stats = core.statistics(11.0)
    assert (stats.window_calls, stats.failure_rate) == (3, 1 / 3)


def test_time_window_trips_on_rate_and_survives_big_jumps() -> None:
    config = BreakerConfig(
        failure_threshold=None, window_seconds=1.0, window_buckets=4, minimum_calls=2
    )
    core = BreakerCore("db", config)
    core.record(core.admit(0.0), SUCCESS, 0.0)  # type: ignore[arg-type]
    core.record(core.admit(1e6), SUCCESS, 1e6)  # type: ignore[arg-type]
    assert core.statistics(1e6).window_calls == 1
    core.record(core.admit(1e6 + 0.1), SUCCESS, 1e6 + 0.1)  # type: ignore[arg-type]
    assert core.state is CLOSED
    assert fail_times(core, 2, now=1e6 + 0.2) is OPEN  # 2 of 4 failed


def test_time_window_counts_a_time_that_went_back_in_the_newest_bucket() -> None:
    config = BreakerConfig(failure_threshold=None, window_seconds=4.0, window_buckets=4)
    core = BreakerCore("db", config)
    core.record(core.admit(10.0), SUCCESS, 10.0)  # type: ignore[arg-type]
    core.record(core.admit(5.0), SUCCESS, 5.0)  # type: ignore[arg-type]
    assert core.statistics(10.0).window_calls == 2


def test_closing_clears_the_window() -> None:
    config = BreakerConfig(
        failure_threshold=None, window_calls=4, minimum_calls=2, reset_timeout=1.0
    )
    core = BreakerCore("db", config)
    assert fail_times(core, 2) is OPEN
    core.close(0.5)
    stats = core.statistics(0.5)
    assert (stats.window_calls, stats.failure_rate, stats.state) == (0, None, CLOSED)
    assert fail_times(core, 1, now=1.0) is CLOSED


# --- manual control and statistics ------------------------------------------------------------


def test_manual_open_close_and_reset() -> None:
    core = BreakerCore("db", BreakerConfig(reset_timeout=10.0))
    core.open(0.0)
    assert core.admit(1.0) == Rejection("db", OPEN, 9.0)
    core.open(1.0, duration=math.inf)
    rejection = core.admit(1e12)
    assert rejection == Rejection("db", OPEN, math.inf)
    assert isinstance(rejection, Rejection)
    assert str(rejection.exception()) == (
        "circuit breaker 'db' is held open until it is closed by hand"
    )
    core.close(2.0)
    assert core.state is CLOSED
    core.close(2.0)  # nothing: already closed
    assert core.statistics(2.0).trips == 2
    core.open(3.0, duration=0)
    assert core.poll(3.0) is HALF_OPEN
    core.reset(4.0)
    assert core.statistics(4.0) == BreakerStatistics(
        state=CLOSED,
        successes=0,
        failures=0,
        timeouts=0,
        ignored=0,
        rejections=0,
        cancelled=0,
        late=0,
        slow_calls=0,
        consecutive_failures=0,
        trips=0,
        trial_calls=0,
        window_calls=0,
        failure_rate=None,
        slow_call_rate=None,
    )
    with pytest.raises(ValueError, match=r"open: duration must be a number >= 0 or None \(got -1"):
        core.open(5.0, duration=-1)


def test_manual_open_backs_off_like_a_trip() -> None:
    core = BreakerCore("db", BreakerConfig(reset_timeout=1.0))
    core.open(0.0)
    core.open(0.0)
    assert core.admit(0.0) == Rejection("db", OPEN, 2.0)


def test_statistics_count_every_outcome_apart() -> None:
    config = BreakerConfig(
        failure_threshold=10, window_calls=10, minimum_calls=10, slow_call_duration=1.0
    )
    core = BreakerCore("db", config)
    for outcome, duration in [
        (SUCCESS, 0.1),
        (SUCCESS, 2.0),
        (FAILURE, 0.1),
        (TIMEOUT, 5.0),
        (IGNORED, 9.0),
        (CANCELLED, 9.0),
    ]:
        core.record(core.admit(0.0), outcome, 0.0, duration)  # type: ignore[arg-type]
    early = core.admit(0.0)
    core.open(0.0)
    core.admit(0.0)
    core.record(early, SUCCESS, 0.0)  # type: ignore[arg-type]
    assert core.statistics(0.0) == BreakerStatistics(
        state=OPEN,
        successes=2,
        failures=1,
        timeouts=1,
        ignored=1,
        rejections=1,
        cancelled=1,
        late=1,
        slow_calls=2,
        consecutive_failures=2,
        trips=1,
        trial_calls=0,
        window_calls=4,
        failure_rate=0.5,
        slow_call_rate=0.5,
    )


# --- events -----------------------------------------------------------------------------------


def test_every_outcome_and_transition_is_an_event() -> None:
    events: list[BreakerEvent] = []
    config = BreakerConfig(failure_threshold=2, reset_timeout=1.0, exclude=KeyError)
    core = BreakerCore("db", config, hooks=[events.append])
    boom = Boom("x")
    core.record(core.admit(0.0), SUCCESS, 0.1, 0.1)  # type: ignore[arg-type]
    core.record(core.admit(0.2), IGNORED, 0.3, 0.1, KeyError("k"))  # type: ignore[arg-type]
    core.record(core.admit(0.3), CANCELLED, 0.4, 0.1)  # type: ignore[arg-type]
    early = core.admit(0.4)
    core.record(core.admit(0.5), TIMEOUT, 0.6, 0.1)  # type: ignore[arg-type]
    core.record(core.admit(0.7), FAILURE, 0.8, 0.1, boom)  # type: ignore[arg-type]
    core.admit(0.9)
    core.record(early, SUCCESS, 1.0, 0.6)  # type: ignore[arg-type]
    trial = core.admit(1.8)
    core.record(trial, SUCCESS, 1.9, 0.1)  # type: ignore[arg-type]
    assert [event.name for event in events] == [
        "breaker.success",
        "breaker.ignored",
        "breaker.cancelled",
        "breaker.timeout",
        "breaker.failure",
        "breaker.state_changed",
        "breaker.rejected",
        "breaker.late",
        "breaker.state_changed",
        "breaker.success",
        "breaker.state_changed",
    ]
    assert events[0] == BreakerCallSucceeded("db", 0.1, 0, False, 0.1, False)
    assert events[3] == BreakerCallTimedOut("db", 0.6, 0, False, 0.1, False)
    assert isinstance(events[4], BreakerCallFailed)
    assert events[4].error is boom
    assert events[5] == BreakerStateChanged("db", 0.8, CLOSED, OPEN, "consecutive_failures", 1, 1.0)
    assert events[6] == BreakerCallRejected("db", 0.9, OPEN, pytest.approx(0.9))
    assert events[7] == BreakerCallLate("db", 1.0, 0, SUCCESS, 0.6, None)
    assert events[8] == BreakerStateChanged("db", 1.8, OPEN, HALF_OPEN, "reset_timeout", 2, None)
    assert events[9] == BreakerCallSucceeded("db", 1.9, 2, True, 0.1, False)
    assert events[10] == BreakerStateChanged(
        "db", 1.9, HALF_OPEN, CLOSED, "trials_succeeded", 3, None
    )
    assert isinstance(events[1], BreakerCallIgnored)
    assert isinstance(events[2], BreakerCallCancelled)
    assert str(events[5]) == (
        "circuit breaker 'db': closed -> open (consecutive_failures); open for 1 s"
    )
    assert str(events[10]) == "circuit breaker 'db': half_open -> closed (trials_succeeded)"
    assert str(events[0]) == "circuit breaker 'db': call succeeded after 0.1 s"


def test_transitions_are_logged_and_a_failing_hook_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def bad_hook(event: BreakerEvent) -> None:
        raise RuntimeError("hook bug")

    seen: list[BreakerEvent] = []
    core = BreakerCore("db", BreakerConfig(failure_threshold=1), hooks=[bad_hook, seen.append])
    assert fail_times(core, 1) is OPEN
    assert len(seen) == 2  # the failure and the transition reached the next hook
    opened = [r for r in caplog.records if r.name == "otp.breaker" and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in opened] == [
        "circuit breaker 'db': closed -> open (consecutive_failures); open for 30 s"
    ]
    assert opened[0].otp_event == seen[1]  # type: ignore[attr-defined]
    assert any("hook" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_reset_from_open_is_a_transition() -> None:
    events: list[BreakerEvent] = []
    core = BreakerCore("db", BreakerConfig(failure_threshold=1), hooks=[events.append])
    core.open(0.0, 5.0)
    core.reset(1.0)
    changes = [(e.old, e.new, e.reason) for e in events if isinstance(e, BreakerStateChanged)]
    assert changes == [(CLOSED, OPEN, "manual"), (OPEN, CLOSED, "reset")]


# --- the model-based test of the pure core ------------------------------------------------------


class Model:
    """A deliberately plain breaker: lists instead of rings and buckets, no shortcuts."""

    def __init__(self, config: BreakerConfig, random: FakeRandom) -> None:
        self.c = config
        self.random = random
        self.backoff = otp.Backoff(
            config.reset_timeout,
            config.max_reset_timeout,
            multiplier=config.backoff_multiplier,
            jitter=config.jitter,
        )
        self.state = CLOSED
        self.episode = 0
        self.open_until = 0.0
        self.half_open_since = 0.0
        self.trials = 0
        self.trial_successes = 0
        self.opens_since_close = 0
        self.consecutive = 0
        self.window: list[tuple[float, bool, bool]] = []  # end time, failed, slow
        self.counts = dict.fromkeys(
            ["successes", "failures", "timeouts", "ignored", "rejections", "cancelled", "late"],
            0,
        )
        self.slow_calls = 0
        self.trips = 0

    def in_window(self, now: float) -> list[tuple[float, bool, bool]]:
        if self.c.window_calls is not None:
            return self.window[-self.c.window_calls :]
        if self.c.window_seconds is not None:
            width = self.c.window_seconds / self.c.window_buckets
            newest = math.floor(now / width)
            return [
                e for e in self.window if math.floor(e[0] / width) > newest - self.c.window_buckets
            ]
        return []

    def go(self, state: BreakerState, now: float) -> None:
        self.state = state
        self.episode += 1
        if state is CLOSED:
            self.consecutive = 0
            self.window = []
            self.opens_since_close = 0
        if state is HALF_OPEN:
            self.trials = self.trial_successes = 0
            self.half_open_since = now

    def trip(self, now: float, duration: float | None = None) -> None:
        if duration is None:
            duration = self.backoff.delay(self.opens_since_close, self.random)
        self.opens_since_close += 1
        self.trips += 1
        self.open_until = now + duration
        self.go(OPEN, now)

    def poll(self, now: float) -> None:
        if self.state is OPEN and now >= self.open_until:
            self.go(HALF_OPEN, now)
        elif self.state is HALF_OPEN:
            limit = self.c.max_half_open_duration
            if limit is not None and now - self.half_open_since >= limit:
                self.trip(now)

    def admit(self, now: float) -> Admission | Rejection:
        self.poll(now)
        if self.state is CLOSED:
            return Admission(self.episode, trial=False)
        if self.state is HALF_OPEN and self.trials < self.c.half_open_max_calls:
            self.trials += 1
            return Admission(self.episode, trial=True)
        self.counts["rejections"] += 1
        retry = self.open_until - now if self.state is OPEN else 0.0
        return Rejection("m", self.state, retry)

    def judge(self, now: float) -> None:
        calls = self.in_window(now)
        if self.c.window_calls is None and self.c.window_seconds is None:
            return
        if len(calls) < self.c.minimum_calls:
            return
        if sum(f for _, f, _ in calls) / len(calls) >= self.c.failure_rate_threshold or (
            self.c.slow_call_duration is not None
            and sum(s for _, _, s in calls) / len(calls) >= self.c.slow_call_rate_threshold
        ):
            self.trip(now)

    def record(
        self, admission: Admission, outcome: CallOutcome, now: float, duration: float
    ) -> None:
        self.poll(now)
        if admission.episode != self.episode:
            self.counts["late"] += 1
            return
        if admission.trial:
            self.trials -= 1
        limit = self.c.slow_call_duration
        slow = limit is not None and duration > limit and outcome in (SUCCESS, FAILURE, TIMEOUT)
        self.slow_calls += slow
        if outcome is IGNORED:
            self.counts["ignored"] += 1
        elif outcome is CANCELLED:
            self.counts["cancelled"] += 1
        elif outcome is SUCCESS:
            self.counts["successes"] += 1
            if admission.trial:
                if slow:
                    self.trip(now)
                else:
                    self.trial_successes += 1
                    if self.trial_successes >= self.c.success_threshold:
                        self.go(CLOSED, now)
            else:
                self.consecutive = 0
                self.window.append((now, False, slow))
                self.judge(now)
        else:
            self.counts["failures" if outcome is FAILURE else "timeouts"] += 1
            if admission.trial:
                self.trip(now)
            else:
                self.consecutive += 1
                self.window.append((now, True, slow))
                threshold = self.c.failure_threshold
                if threshold is not None and self.consecutive >= threshold:
                    self.trip(now)
                else:
                    self.judge(now)

    def statistics(self, now: float) -> dict[str, Any]:
        self.poll(now)
        calls = self.in_window(now)
        has_window = self.c.window_calls is not None or self.c.window_seconds is not None
        failure_rate = slow_rate = None
        if has_window and calls:
            failure_rate = sum(f for _, f, _ in calls) / len(calls)
            if self.c.slow_call_duration is not None:
                slow_rate = sum(s for _, _, s in calls) / len(calls)
        return {
            "state": self.state,
            **self.counts,
            "slow_calls": self.slow_calls,
            "consecutive_failures": self.consecutive,
            "trips": self.trips,
            "trial_calls": self.trials if self.state is HALF_OPEN else 0,
            "window_calls": len(calls),
            "failure_rate": failure_rate,
            "slow_call_rate": slow_rate,
        }


@st.composite
def configs(draw: st.DrawFn) -> BreakerConfig:
    window = draw(st.sampled_from(["none", "count", "time"]))
    options: dict[str, Any] = {
        "reset_timeout": draw(st.sampled_from([1.0, 2.5, 10.0])),
        "backoff_multiplier": draw(st.sampled_from([1.0, 1.5, 2.0])),
        "jitter": draw(st.sampled_from([0.0, 0.5])),
        "half_open_max_calls": draw(st.integers(1, 3)),
        "success_threshold": draw(st.integers(1, 3)),
        "max_half_open_duration": draw(st.sampled_from([None, 3.0, 20.0])),
    }
    options["max_reset_timeout"] = options["reset_timeout"] * draw(st.sampled_from([1, 3, 10]))
    threshold = draw(st.none() | st.integers(1, 4))
    if window == "none":
        threshold = threshold or 3
    else:
        if window == "count":
            options["window_calls"] = draw(st.integers(1, 6))
            options["minimum_calls"] = draw(st.integers(1, options["window_calls"]))
        else:
            options["window_seconds"] = draw(st.sampled_from([2.0, 5.0, 12.0]))
            options["window_buckets"] = draw(st.integers(1, 4))
            options["minimum_calls"] = draw(st.integers(1, 5))
        options["failure_rate_threshold"] = draw(st.sampled_from([0.25, 0.5, 1.0]))
        if draw(st.booleans()):
            options["slow_call_duration"] = draw(st.sampled_from([0.5, 2.0]))
            options["slow_call_rate_threshold"] = draw(st.sampled_from([0.5, 1.0]))
    return BreakerConfig(failure_threshold=threshold, **options)


class BreakerMachine(RuleBasedStateMachine):
    """Drive a BreakerCore and the model with the same calls, times and random numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.running: list[Admission] = []

    @initialize(
        config=configs(),
        randoms=st.lists(st.floats(0.0, 0.999), min_size=1, max_size=4),
        start=st.sampled_from([0.0, 3.7, 1e6]),
    )
    def start(self, config: BreakerConfig, randoms: list[float], start: float) -> None:
        self.now = start
        self.core = BreakerCore("m", config, random=FakeRandom(*randoms))
        self.model = Model(config, FakeRandom(*randoms))

    @rule(dt=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 7.0, 30.0]) | st.floats(0.0, 50.0))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def admit(self) -> None:
        got = self.core.admit(self.now)
        expected = self.model.admit(self.now)
        if isinstance(expected, Rejection):
            assert isinstance(got, Rejection)
            assert got.state is expected.state
            assert got.retry_after == pytest.approx(expected.retry_after, abs=1e-9)
            assert got.retry_after >= 0
        else:
            assert got == expected
            assert isinstance(got, Admission)
            self.running.append(got)

    @precondition(lambda self: self.running)
    @rule(
        data=st.data(),
        outcome=st.sampled_from(list(CallOutcome)),
        duration=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    )
    def finish(self, data: st.DataObject, outcome: CallOutcome, duration: float) -> None:
        index = data.draw(st.integers(0, len(self.running) - 1))
        admission = self.running.pop(index)
        state = self.core.record(admission, outcome, self.now, duration)
        self.model.record(admission, outcome, self.now, duration)
        assert state is self.model.state

    @rule(
        outcome=st.sampled_from([SUCCESS, SUCCESS, SUCCESS, FAILURE, FAILURE, TIMEOUT, IGNORED]),
        duration=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    )
    def call(self, outcome: CallOutcome, duration: float) -> None:
        """Admit a call and record it at once: the common case, so trips and trials happen."""
        got = self.core.admit(self.now)
        expected = self.model.admit(self.now)
        assert type(got) is type(expected)
        if isinstance(got, Admission):
            assert got == expected
            state = self.core.record(got, outcome, self.now, duration)
            self.model.record(got, outcome, self.now, duration)
            assert state is self.model.state

    @rule(
        action=st.sampled_from(["open", "close", "reset"]),
        duration=st.none() | st.sampled_from([0.0, 1.0, math.inf]),
    )
    def manual(self, action: str, duration: float | None) -> None:
        model = self.model
        model.poll(self.now)
        if action == "open":
            self.core.open(self.now, duration)
            model.trip(self.now, duration)
        elif action == "close":
            self.core.close(self.now)
            if model.state is not CLOSED:
                model.go(CLOSED, self.now)
        else:
            self.core.reset(self.now)
            model.go(CLOSED, self.now)
            model.counts = dict.fromkeys(model.counts, 0)
            model.slow_calls = model.trips = 0

    @rule()
    def observe(self) -> None:
        """Read the statistics; like every method that takes a time, it applies due moves."""
        got = stats_of(self.core, self.now)
        expected = self.model.statistics(self.now)
        for key in ("failure_rate", "slow_call_rate"):
            if expected[key] is not None:
                expected[key] = pytest.approx(expected[key])
        assert got == expected

    @invariant()
    def same_state_and_episode(self) -> None:
        # Without polling: a due move must be applied by the next call that takes a time
        # (admit, record, observe, ...), not by this check.
        if hasattr(self, "core"):
            assert self.core.state is self.model.state
            assert self.core.episode == self.model.episode


BreakerMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBreakerModel = BreakerMachine.TestCase


# --- the Trio wrapper -------------------------------------------------------------------------


async def ok(value: Any = "ok") -> Any:
    await trio.lowlevel.checkpoint()
    return value


async def fail(error: BaseException | None = None) -> None:
    await trio.lowlevel.checkpoint()
    raise error if error is not None else Boom("down")


async def test_call_passes_results_and_errors_through() -> None:
    breaker = CircuitBreaker("db")
    assert await breaker.call(ok, 42) == 42
    boom = Boom("down")
    with pytest.raises(Boom) as info:
        await breaker.call(fail, boom)
    assert info.value is boom
    stats = breaker.statistics()
    assert (stats.successes, stats.failures, stats.consecutive_failures) == (1, 1, 1)
    assert repr(breaker) == "<otp.CircuitBreaker 'db' closed>"
    assert (breaker.name, breaker.config, breaker.core.name) == ("db", BreakerConfig(), "db")


async def test_the_tripping_call_raises_its_own_error_then_calls_are_rejected() -> None:
    called = 0

    async def flaky() -> None:
        nonlocal called
        called += 1
        raise Boom(f"failure {called}")

    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=3, reset_timeout=10.0))
    for attempt in range(3):
        with pytest.raises(Boom, match=f"failure {attempt + 1}"):
            await breaker.call(flaky)
    await trio.sleep(4.0)
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(flaky)
    assert called == 3  # rejected without calling
    assert str(info.value) == "circuit breaker 'db' is open; the next trial call is allowed in 6 s"
    assert info.value.retry_after == pytest.approx(6.0)
    assert info.value.state is OPEN
    assert breaker.state is OPEN
    await trio.sleep(6.0)
    assert breaker.state is HALF_OPEN  # reading the state applies the lazy move
    assert await breaker.call(ok) == "ok"
    assert breaker.state is CLOSED
    assert breaker.statistics().rejections == 1


async def test_the_closed_fast_path_reads_no_clock() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("db", clock=clock)
    for _ in range(10):
        await breaker.call(ok)
    decorated = breaker(ok)
    await decorated()
    async with breaker.guard():
        pass
    assert clock.reads == 0
    with pytest.raises(Boom):
        await breaker.call(fail)
    assert clock.reads == 1  # a failure is stamped
    assert breaker.statistics().successes == 12


async def test_a_count_window_success_reads_no_clock_unless_it_trips() -> None:
    clock = FakeClock()
    config = BreakerConfig(failure_threshold=None, window_calls=4, failure_rate_threshold=0.5)
    breaker = CircuitBreaker("db", config, clock=clock)
    for _ in range(6):
        await breaker.call(ok)
    assert clock.reads == 0
    with pytest.raises(Boom):
        await breaker.call(fail)
    assert clock.reads == 1  # a failure is stamped
    assert breaker.state is CLOSED  # S S S F: 1 of 4
    with pytest.raises(Boom):
        await breaker.call(fail)
    assert breaker.state is OPEN  # S S F F: 2 of 4


async def test_a_success_that_trips_a_count_window_is_stamped() -> None:
    clock = FakeClock(7.0)
    config = BreakerConfig(failure_threshold=None, window_calls=4, reset_timeout=1.0)
    breaker = CircuitBreaker("db", config, clock=clock)
    for _ in range(3):
        with pytest.raises(Boom):
            await breaker.call(fail)
    assert breaker.state is CLOSED
    await breaker.call(ok)  # 3 of 4 failed, and the window is now judged
    assert breaker.state is OPEN
    clock.now = 7.5
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(ok)
    assert info.value.retry_after == 0.5


async def test_count_window_through_the_wrapper_matches_the_core() -> None:
    config = BreakerConfig(
        failure_threshold=None, window_calls=5, minimum_calls=3, failure_rate_threshold=0.6
    )
    breaker = CircuitBreaker("db", config)
    core = BreakerCore("db", config)
    pattern = [True, False, True, True, True, False, False, True, False, False, True, True]
    for index, succeed in enumerate(pattern * 3):
        now = trio.current_time()
        admitted = core.admit(now)
        try:
            if succeed:
                await breaker.call(ok)
            else:
                await breaker.call(fail)
        except (Boom, CircuitOpen):
            pass
        if isinstance(admitted, Admission):
            core.record(admitted, SUCCESS if succeed else FAILURE, now)
        assert stats_of(core, now) == stats_of(breaker.core, now), index
        await trio.sleep(1.0)


async def test_call_timeout_cancels_the_body_itself() -> None:
    reached_the_end = False
    saw_cancel = False

    async def slow() -> None:
        nonlocal reached_the_end, saw_cancel
        try:
            await trio.sleep(100)
            reached_the_end = True
        except trio.Cancelled:
            saw_cancel = True
            raise

    events: list[BreakerEvent] = []
    breaker = CircuitBreaker(
        "db", BreakerConfig(call_timeout=2.0, failure_threshold=2), hooks=[events.append]
    )
    began = trio.current_time()
    with pytest.raises(BreakerTimeout) as info:
        await breaker.call(slow)
    assert trio.current_time() - began == pytest.approx(2.0)
    assert saw_cancel
    assert not reached_the_end
    assert str(info.value) == (
        "circuit breaker 'db': the call did not finish within its call_timeout of 2 s and was "
        "cancelled"
    )
    assert info.value.__cause__ is None
    stats = breaker.statistics()
    assert (stats.timeouts, stats.failures, stats.consecutive_failures) == (1, 0, 1)
    timed_out = [e for e in events if isinstance(e, BreakerCallTimedOut)]
    assert len(timed_out) == 1
    assert timed_out[0].duration == pytest.approx(2.0)
    # Fast calls go through, and a second timeout trips the breaker.
    assert await breaker.call(ok, 1) == 1
    await trio.lowlevel.checkpoint()
    with pytest.raises(BreakerTimeout):
        await breaker.call(slow)
    with pytest.raises(BreakerTimeout):
        await breaker.call(slow)
    assert breaker.state is OPEN


async def test_call_timeout_travels_into_a_server_call() -> None:
    class Slow(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            await trio.sleep(request)
            return "done"

    breaker = CircuitBreaker("server", BreakerConfig(call_timeout=1.0, failure_threshold=2))
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Slow.start)
        assert await breaker.call(ref.call, 0.5) == "done"
        # The breaker's deadline is shorter than the call's own 5 s: the breaker's wins.
        with pytest.raises(BreakerTimeout):
            await breaker.call(ref.call, 10.0)
        # The call's own timeout is shorter: otp.CallTimeout, a failure like any other.
        with pytest.raises(otp.CallTimeout):
            await breaker.call(ref.call, 10.0, 0.5)
        assert breaker.state is OPEN
        with pytest.raises(CircuitOpen):
            await breaker.call(ref.call, 0.1)
        nursery.cancel_scope.cancel()
    stats = breaker.statistics()
    assert (stats.successes, stats.timeouts, stats.failures, stats.rejections) == (1, 1, 1, 1)


async def test_a_protected_server_ref_call() -> None:
    class Flaky(otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: otp.Caller[Any]) -> Any:
            if request == "crash":
                raise Boom("server crashed")
            return request

    breaker = CircuitBreaker("flaky", BreakerConfig(failure_threshold=2, reset_timeout=5.0))
    supervisor_spec = Flaky.child_spec(id="flaky", name="flaky", restart="permanent")
    async with otp.open_supervisor([supervisor_spec], intensity=10, period=1.0):
        ref = otp.named("flaky")
        call = breaker(ref.call)
        assert call.__wrapped__.__self__ is ref  # type: ignore[attr-defined]
        assert await call("hello", timeout=1.0) == "hello"
        with pytest.raises(otp.ServerExited):
            await call("crash")
        await trio.sleep(0.1)  # the supervisor restarts it
        with pytest.raises(otp.ServerExited):
            await call("crash", wait_for_name=True)
        with pytest.raises(CircuitOpen):
            await call("hello")
        await trio.sleep(5.0)
        assert await call("hello", wait_for_name=True) == "hello"
        assert breaker.state is CLOSED


async def test_cancellation_from_outside_is_neither_and_propagates_untouched() -> None:
    events: list[BreakerEvent] = []
    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=1), hooks=[events.append])
    seen: list[BaseException] = []

    async def waits() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled as exc:
            seen.append(exc)
            raise

    caught: list[BaseException] = []
    with trio.move_on_after(1.0) as scope:
        try:
            await breaker.call(waits)
        except trio.Cancelled as exc:
            caught.append(exc)
            raise
    assert scope.cancelled_caught
    assert caught == seen
    assert caught[0] is seen[0]
    stats = breaker.statistics()
    assert (stats.cancelled, stats.failures, stats.successes, stats.state) == (1, 0, 0, CLOSED)
    assert [e.name for e in events] == ["breaker.cancelled"]


async def test_a_cancelled_group_from_a_nursery_inside_is_neither() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=1))

    async def fan_out() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            nursery.start_soon(trio.sleep_forever)

    with trio.move_on_after(1.0):
        await breaker.call(fan_out)
    stats = breaker.statistics()
    assert (stats.cancelled, stats.failures, stats.state) == (1, 0, CLOSED)


def test_classification_of_groups_and_base_exceptions() -> None:
    config = BreakerConfig(exclude=KeyError)
    classify = functools.partial(_breaker._classify, config)
    cancelled = trio.Cancelled._create(source="explicit")
    assert classify(cancelled) is CANCELLED
    assert classify(BaseExceptionGroup("g", [cancelled])) is CANCELLED
    assert classify(BaseExceptionGroup("g", [cancelled, Boom()])) is FAILURE
    assert classify(BaseExceptionGroup("g", [cancelled, KeyError()])) is IGNORED
    assert classify(ExceptionGroup("g", [KeyError(), ExceptionGroup("h", [KeyError()])])) is IGNORED
    assert classify(BaseExceptionGroup("g", [KeyboardInterrupt()])) is CANCELLED
    assert classify(KeyboardInterrupt()) is CANCELLED
    assert classify(SystemExit()) is CANCELLED
    assert classify(KeyError()) is IGNORED
    assert classify(Boom()) is FAILURE
    assert classify(CircuitOpen("inner", OPEN, 1.0)) is FAILURE  # a nested breaker's refusal
    group_excluded = BreakerConfig(exclude=lambda e: isinstance(e, ExceptionGroup))
    assert _breaker._classify(group_excluded, ExceptionGroup("g", [Boom()])) is IGNORED


async def test_a_cancelled_trial_gives_its_slot_back() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=1, reset_timeout=1.0))
    with pytest.raises(Boom):
        await breaker.call(fail)
    await trio.sleep(1.0)
    with trio.move_on_after(0.5):
        await breaker.call(trio.sleep_forever)
    assert breaker.state is HALF_OPEN
    assert breaker.statistics().trial_calls == 0
    assert await breaker.call(ok) == "ok"  # the slot was free again
    assert breaker.state is CLOSED


async def test_half_open_admits_n_concurrent_trials_and_rejects_the_rest() -> None:
    config = BreakerConfig(
        failure_threshold=1, reset_timeout=1.0, half_open_max_calls=3, success_threshold=3
    )
    breaker = CircuitBreaker("db", config)
    with pytest.raises(Boom):
        await breaker.call(fail)
    await trio.sleep(1.0)
    ran = 0
    rejected: list[CircuitOpen] = []
    release = trio.Event()

    async def trial() -> None:
        nonlocal ran
        ran += 1
        await release.wait()

    async def caller() -> None:
        try:
            await breaker.call(trial)
        except CircuitOpen as exc:
            rejected.append(exc)

    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        assert ran == 3
        assert len(rejected) == 5
        assert {(e.state, e.retry_after) for e in rejected} == {(HALF_OPEN, 0.0)}
        assert breaker.statistics().trial_calls == 3
        release.set()
    assert breaker.state is CLOSED
    stats = breaker.statistics()
    assert (stats.successes, stats.rejections) == (3, 5)


async def test_late_results_cannot_flip_the_state() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=2, reset_timeout=10.0))
    outcomes: list[str] = []

    async def slow_then(succeed: bool) -> str:
        await trio.sleep(5.0)
        if not succeed:
            raise Boom("late")
        return "late"

    async def slow_caller(succeed: bool) -> None:
        try:
            outcomes.append(await breaker.call(slow_then, succeed))
        except Boom:
            outcomes.append("boom")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow_caller, True)
        nursery.start_soon(slow_caller, False)
        await trio.sleep(1.0)
        for _ in range(2):
            with pytest.raises(Boom):
                await breaker.call(fail)
        assert breaker.state is OPEN
    assert sorted(outcomes) == ["boom", "late"]  # the callers still get their results
    assert breaker.state is OPEN  # the late success did not close it ...
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(ok)
    assert info.value.retry_after == pytest.approx(6.0)  # ... nor the late failure re-open it
    stats = breaker.statistics()
    assert (stats.late, stats.failures, stats.successes, stats.trips) == (2, 2, 0, 1)


async def test_excluded_exceptions_are_ignored_and_propagate() -> None:
    config = BreakerConfig(
        failure_threshold=1, exclude=(KeyError, lambda e: getattr(e, "status", 0) == 404)
    )
    breaker = CircuitBreaker("db", config)

    class HttpError(Exception):
        def __init__(self, status: int) -> None:
            super().__init__(status)
            self.status = status

    with pytest.raises(KeyError):
        await breaker.call(fail, KeyError("missing"))
    with pytest.raises(HttpError):
        await breaker.call(fail, HttpError(404))
    assert breaker.state is CLOSED
    stats = breaker.statistics()
    assert (stats.ignored, stats.successes, stats.failures) == (2, 0, 0)
    with pytest.raises(HttpError):
        await breaker.call(fail, HttpError(503))
    assert breaker.state is OPEN


async def test_an_ignored_trial_returns_its_slot_without_closing() -> None:
    config = BreakerConfig(failure_threshold=1, reset_timeout=1.0, exclude=KeyError)
    breaker = CircuitBreaker("db", config)
    with pytest.raises(Boom):
        await breaker.call(fail)
    await trio.sleep(1.0)
    with pytest.raises(KeyError):
        await breaker.call(fail, KeyError("k"))
    assert breaker.state is HALF_OPEN
    assert await breaker.call(ok) == "ok"
    assert breaker.state is CLOSED


async def test_decorator_form() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=2))

    @breaker
    async def fetch(key: str, *, default: str = "none") -> str:
        """Fetch a key."""
        await trio.lowlevel.checkpoint()
        if key == "bad":
            raise Boom(key)
        return f"{key}={default}"

    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch a key."
    assert await fetch("a", default="x") == "a=x"
    for _ in range(2):
        with pytest.raises(Boom):
            await fetch("bad")
    with pytest.raises(CircuitOpen):
        await fetch("a")
    stats = breaker.statistics()
    assert (stats.successes, stats.failures, stats.rejections) == (1, 2, 1)


async def test_decorator_with_a_timeout_and_late_success() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=1, call_timeout=3.0))
    protected = breaker(trio.sleep)
    await protected(1.0)
    with pytest.raises(BreakerTimeout):
        await protected(5.0)
    assert breaker.state is OPEN

    fast_breaker = CircuitBreaker("fast", BreakerConfig(failure_threshold=1))
    slow = fast_breaker(trio.sleep)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow, 2.0)
        await trio.sleep(1.0)
        fast_breaker.open()
    assert fast_breaker.statistics().late == 1


async def test_guard_form() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(failure_threshold=2, reset_timeout=5.0))
    async with breaker.guard() as guard:
        await trio.sleep(0.1)
    assert isinstance(guard, BreakerGuard)
    assert guard.admission == Admission(0, trial=False)
    assert guard.cancel_scope is None
    for _ in range(2):
        with pytest.raises(Boom):
            async with breaker.guard():
                raise Boom("inside")
    ran = False
    with pytest.raises(CircuitOpen) as info:
        async with breaker.guard():
            ran = True
    assert not ran
    assert info.value.retry_after == pytest.approx(5.0)
    with pytest.raises(RuntimeError, match="a breaker guard can be used only once"):
        async with guard:
            pass
    await trio.sleep(5.0)
    async with breaker.guard() as trial_guard:
        assert trial_guard.admission is not None
        assert trial_guard.admission.trial
    assert breaker.state is CLOSED
    stats = breaker.statistics()
    assert (stats.successes, stats.failures, stats.rejections) == (2, 2, 1)


async def test_guard_timeout_cancels_the_body() -> None:
    events: list[BreakerEvent] = []
    breaker = CircuitBreaker("db", BreakerConfig(call_timeout=1.5), hooks=[events.append])
    after_sleep = False

    async def guarded_sleep() -> None:
        nonlocal after_sleep
        async with breaker.guard() as guard:
            assert guard.cancel_scope is not None
            await trio.sleep(10)
            after_sleep = True

    with pytest.raises(BreakerTimeout) as info:
        await guarded_sleep()
    assert not after_sleep
    assert info.value.__suppress_context__
    assert breaker.statistics().timeouts == 1
    assert [e.name for e in events] == ["breaker.timeout"]
    assert events[0].duration == pytest.approx(1.5)  # type: ignore[attr-defined]
    # A body that ends in time is a success, under the same kind of scope.
    async with breaker.guard():
        await trio.sleep(1.0)
    assert breaker.statistics().successes == 1


async def test_guard_outside_cancellation_and_groups() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(call_timeout=5.0, failure_threshold=1))
    with trio.move_on_after(1.0):
        async with breaker.guard():
            await trio.sleep_forever()
    assert breaker.statistics().cancelled == 1
    # The breaker's timeout makes one task of the body fail as it unwinds: the scope takes
    # its own Cancelled out of the group, and the failure counts.

    async def fails_when_cancelled() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            raise Boom("cleanup failed") from None

    with pytest.RaisesGroup(Boom):
        async with breaker.guard(), trio.open_nursery() as nursery:
            nursery.start_soon(fails_when_cancelled)
            nursery.start_soon(trio.sleep_forever)
    assert breaker.statistics().failures == 1
    assert breaker.state is OPEN


async def test_a_body_that_swallows_the_timeout_and_returns_is_a_success() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(call_timeout=1.0))

    async def stubborn() -> str:
        with trio.CancelScope(shield=True):
            await trio.sleep(2.0)
        return "finished anyway"

    assert await breaker.call(stubborn) == "finished anyway"
    assert breaker.statistics().successes == 1


async def test_manual_control_through_the_wrapper() -> None:
    breaker = CircuitBreaker("db", BreakerConfig(reset_timeout=3.0))
    breaker.open(math.inf)
    with pytest.raises(CircuitOpen, match="held open until it is closed by hand"):
        await breaker.call(ok)
    await trio.sleep(80_000)
    assert breaker.state is OPEN
    breaker.close()
    assert await breaker.call(ok) == "ok"
    breaker.open()
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(ok)
    assert info.value.retry_after == 3.0
    breaker.reset()
    assert breaker.statistics().trips == 0
    assert await breaker.call(ok) == "ok"


async def test_injected_clock_and_random_drive_the_wrapper() -> None:
    clock = FakeClock(100.0)
    config = BreakerConfig(failure_threshold=1, reset_timeout=10.0, jitter=1.0)
    breaker = CircuitBreaker("db", config, clock=clock, random=FakeRandom(0.5))
    with pytest.raises(Boom):
        await breaker.call(fail)
    clock.now = 110.0
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(ok)
    assert info.value.retry_after == 5.0  # 10 * (1 + 1.0 * 0.5) = 15 s from 100
    clock.now = 115.0
    assert await breaker.call(ok) == "ok"


async def test_hooks_see_durations_on_the_breakers_clock() -> None:
    events: list[BreakerEvent] = []
    breaker = CircuitBreaker("db", hooks=[events.append])
    await breaker.call(trio.sleep, 0.75)
    with pytest.raises(Boom):
        await breaker.call(fail)
    assert isinstance(events[0], BreakerCallSucceeded)
    assert events[0].duration == pytest.approx(0.75)
    assert isinstance(events[1], BreakerCallFailed)
    assert isinstance(events[1].error, Boom)


async def test_slow_calls_through_the_wrapper() -> None:
    config = BreakerConfig(
        failure_threshold=None,
        window_seconds=60.0,
        minimum_calls=4,
        slow_call_duration=1.0,
        slow_call_rate_threshold=0.5,
    )
    breaker = CircuitBreaker("db", config)
    for seconds in (0.1, 2.0, 0.1):
        await breaker.call(trio.sleep, seconds)
    assert breaker.state is CLOSED
    await breaker.call(trio.sleep, 1.5)  # 2 slow of 4
    assert breaker.state is OPEN
    stats = breaker.statistics()
    assert (stats.successes, stats.slow_calls, stats.slow_call_rate) == (4, 2, 0.5)


# --- the docstrings' examples ---------------------------------------------------------------


def test_docstring_examples() -> None:
    # The names are not exported from otp by this module; give the examples an otp that has
    # them.
    names = {name: getattr(otp, name) for name in dir(otp) if not name.startswith("__")}
    names.update({name: getattr(_breaker, name) for name in _breaker.__all__})
    fake_otp = types.SimpleNamespace(**names)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.IGNORE_EXCEPTION_DETAIL)
    # The public names show as otp.X, so look at each object itself, not at the module it
    # no longer claims to come from.
    tests = finder.find(_breaker, extraglobs={"otp": fake_otp})
    for name in _breaker.__all__:
        tests += finder.find(
            getattr(_breaker, name), name, module=False, extraglobs={"otp": fake_otp}
        )
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted >= 20
    assert results.failed == 0


def test_public_names_are_documented_with_examples() -> None:
    for name in _breaker.__all__:
        obj = getattr(_breaker, name)
        doc = obj.__doc__ or ""
        assert "Example::" in doc, name
    for cls in (CircuitBreaker, BreakerCore):
        for attribute, value in vars(cls).items():
            if not attribute.startswith("_") and callable(value):
                assert value.__doc__, f"{cls.__name__}.{attribute}"
