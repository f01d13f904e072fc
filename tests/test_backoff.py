import math

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from otp import Backoff, ChildSpecError


def no_random() -> float:
    raise AssertionError("random must not be called when jitter is 0")


class FakeRandom:
    """A random source that returns fixed values in turn and counts its calls."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls = 0

    def __call__(self) -> float:
        value = self.values[self.calls % len(self.values)]
        self.calls += 1
        return value


def error_of(*args, **kwargs) -> str:
    with pytest.raises(ChildSpecError) as info:
        Backoff(*args, **kwargs)
    return str(info.value)


# --- construction and validation


def test_defaults():
    backoff = Backoff(min=0.1, max=2.0)
    assert backoff.min == 0.1
    assert backoff.max == 2.0
    assert backoff.multiplier == 2.0
    assert backoff.jitter == 0.0
    assert backoff.reset_after == (0.1 + 2.0) / 2


@pytest.mark.parametrize(
    ("low", "high", "reset_after"),
    [(1, 3, 2.0), (0.5, 0.5, 0.5), (2, 10, 6.0), (0.25, 1.0, 0.625)],
)
def test_default_reset_after_is_midpoint(low, high, reset_after):
    assert Backoff(low, high).reset_after == reset_after


def test_explicit_fields():
    backoff = Backoff(1, 4, multiplier=3, jitter=1, reset_after=10)
    assert attrs.astuple(backoff) == (1.0, 4.0, 3.0, 1.0, 10.0)
    assert all(type(value) is float for value in attrs.astuple(backoff))


def test_max_equal_to_min_accepted():
    assert Backoff(1.5, 1.5).max == 1.5


def test_multiplier_one_and_jitter_zero_accepted():
    backoff = Backoff(1, 2, multiplier=1, jitter=0)
    assert backoff.multiplier == 1.0
    assert backoff.jitter == 0.0


def test_frozen_and_equal():
    backoff = Backoff(1, 2)
    assert backoff == Backoff(1.0, 2.0, multiplier=2.0, jitter=0.0, reset_after=1.5)
    assert hash(backoff) == hash(Backoff(1, 2))
    assert backoff != Backoff(1, 2, jitter=0.1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        backoff.min = 0.5  # type: ignore[misc]


def test_repr():
    assert repr(Backoff(1, 2)) == (
        "Backoff(min=1.0, max=2.0, multiplier=2.0, jitter=0.0, reset_after=1.5)"
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (0, "0"),
        (0.0, "0.0"),
        (-1, "-1"),
        (math.inf, "inf"),
        (math.nan, "nan"),
        (True, "True"),
        ("1", "'1'"),
        (None, "None"),
    ],
)
def test_min_rejected(value, got):
    assert error_of(value, 10) == f"Backoff: min must be a finite number > 0 (got {got})"


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (0, "0"),
        (-2, "-2"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (False, "False"),
        ("2", "'2'"),
    ],
)
def test_max_rejected(value, got):
    assert error_of(1, value) == f"Backoff: max must be a finite number > 0 (got {got})"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (2, 1, "Backoff: max must be >= min (got min=2, max=1)"),
        (0.5, 0.25, "Backoff: max must be >= min (got min=0.5, max=0.25)"),
        (1.0000001, 1, "Backoff: max must be >= min (got min=1.0000001, max=1)"),
    ],
)
def test_max_below_min_rejected(low, high, expected):
    assert error_of(low, high) == expected


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (0.5, "0.5"),
        (0, "0"),
        (0.999, "0.999"),
        (-2, "-2"),
        (math.inf, "inf"),
        (math.nan, "nan"),
        (True, "True"),
    ],
)
def test_multiplier_rejected(value, got):
    assert error_of(1, 2, multiplier=value) == (
        f"Backoff: multiplier must be a finite number >= 1 (got {got})"
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [(-0.1, "-0.1"), (-1, "-1"), (math.inf, "inf"), (math.nan, "nan"), (True, "True")],
)
def test_jitter_rejected(value, got):
    assert error_of(1, 2, jitter=value) == (
        f"Backoff: jitter must be a finite number >= 0 (got {got})"
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [(0, "0"), (-1, "-1"), (math.inf, "inf"), (math.nan, "nan"), (True, "True"), ("1", "'1'")],
)
def test_reset_after_rejected(value, got):
    assert error_of(1, 2, reset_after=value) == (
        f"Backoff: reset_after must be a finite number > 0 (got {got})"
    )


def test_min_checked_before_max():
    assert error_of(0, 0) == "Backoff: min must be a finite number > 0 (got 0)"


def test_errors_are_value_errors():
    with pytest.raises(ValueError, match=r"^Backoff: min must be a finite number > 0"):
        Backoff(-1, 1)


def test_bound_too_large_for_a_float_rejected():
    huge = 10**400
    assert error_of(1, huge) == f"Backoff: max must be a finite number > 0 (got {huge!r})"


# --- delay


def test_delay_sequence_from_docs():
    backoff = Backoff(min=0.1, max=2.0)
    assert [backoff.delay(n, random=no_random) for n in range(7)] == [
        0.1,
        0.2,
        0.4,
        0.8,
        1.6,
        2.0,
        2.0,
    ]


def test_delay_sequence_multiplier_three():
    backoff = Backoff(1, 100, multiplier=3)
    assert [backoff.delay(n, random=no_random) for n in range(8)] == [
        1.0,
        3.0,
        9.0,
        27.0,
        81.0,
        100.0,
        100.0,
        100.0,
    ]


def test_delay_hits_max_exactly():
    backoff = Backoff(1, 8)
    assert [backoff.delay(n, random=no_random) for n in range(6)] == [1, 2, 4, 8, 8, 8]


def test_delay_formula():
    backoff = Backoff(0.3, 50, multiplier=1.7)
    for attempt in range(30):
        expected = min(0.3 * 1.7**attempt, 50.0)
        assert backoff.delay(attempt, random=no_random) == pytest.approx(expected, rel=1e-12)


def test_multiplier_one_is_constant():
    backoff = Backoff(0.5, 4, multiplier=1.0)
    assert [backoff.delay(n, random=no_random) for n in (0, 1, 2, 10, 10**9)] == [0.5] * 5


def test_max_equal_min_is_constant():
    backoff = Backoff(2, 2, multiplier=3)
    assert [backoff.delay(n, random=no_random) for n in (0, 1, 5, 10**6)] == [2.0] * 4


@pytest.mark.parametrize("attempt", [10**9, 10**18, 2**64, 10**100])
@pytest.mark.parametrize("multiplier", [1.0, 1.0000001, 1.5, 2.0, 10.0, 1e300])
def test_huge_attempt_no_overflow(attempt, multiplier):
    backoff = Backoff(0.01, 30, multiplier=multiplier)
    expected = 0.01 if multiplier == 1.0 else 30.0
    assert backoff.delay(attempt, random=no_random) == expected


@pytest.mark.parametrize("attempt", [1023, 1024, 1100, 2000, 10**6])
def test_attempt_past_float_range_no_overflow(attempt):
    # 2.0 ** 1024 alone would raise OverflowError.
    assert Backoff(0.01, 30).delay(attempt, random=no_random) == 30.0


def test_slow_multiplier_still_growing():
    backoff = Backoff(1, 1000, multiplier=1.0000001)
    assert backoff.delay(10**6, random=no_random) == pytest.approx(1.0000001**10**6, rel=1e-9)


def test_huge_attempt_no_overflow_with_jitter():
    backoff = Backoff(0.01, 30, jitter=0.5)
    assert backoff.delay(10**9, random=FakeRandom(0.5)) == 30.0 * 1.25


def test_huge_attempt_no_overflow_with_extreme_ratio():
    # max / min overflows to inf here; the delay must still saturate at max.
    backoff = Backoff(1e-300, 1e300)
    assert backoff.delay(5000, random=no_random) == 1e300


@pytest.mark.parametrize("u", [0.0, 0.25, 0.5, 0.999])
def test_jitter_uses_random(u):
    backoff = Backoff(1, 8, jitter=0.5)
    for attempt, base in enumerate([1.0, 2.0, 4.0, 8.0, 8.0]):
        source = FakeRandom(u)
        assert backoff.delay(attempt, random=source) == base * (1.0 + 0.5 * u)
        assert source.calls == 1


def test_jitter_exact_values():
    backoff = Backoff(1, 8, jitter=0.5)
    assert backoff.delay(0, random=FakeRandom(0.0)) == 1.0
    assert backoff.delay(0, random=FakeRandom(0.5)) == 1.25
    assert backoff.delay(2, random=FakeRandom(0.5)) == 5.0
    assert backoff.delay(3, random=FakeRandom(0.5)) == 10.0
    assert backoff.delay(10, random=FakeRandom(0.5)) == 10.0


def test_jitter_one_can_nearly_double():
    backoff = Backoff(2, 2, jitter=1.0)
    assert backoff.delay(0, random=FakeRandom(0.75)) == 3.5


def test_jitter_called_once_per_delay():
    backoff = Backoff(1, 8, jitter=0.2)
    source = FakeRandom(0.0, 0.5, 0.25)
    delays = [backoff.delay(n, random=source) for n in range(3)]
    assert source.calls == 3
    assert delays == [1.0, 2.0 * 1.1, 4.0 * 1.05]


@pytest.mark.parametrize("multiplier", [1.0, 2.0])
def test_random_not_called_without_jitter(multiplier):
    backoff = Backoff(1, 8, multiplier=multiplier, jitter=0)
    for attempt in (0, 1, 3, 100):
        backoff.delay(attempt, random=no_random)


# --- attempt_after_run


def test_attempt_after_run_resets_at_exactly_reset_after():
    backoff = Backoff(1, 3, reset_after=10)
    assert backoff.attempt_after_run(5, ran_for=10.0) == 0
    assert backoff.attempt_after_run(5, ran_for=10) == 0
    assert backoff.attempt_after_run(5, ran_for=math.nextafter(10.0, 0.0)) == 5
    assert backoff.attempt_after_run(5, ran_for=9.0) == 5
    assert backoff.attempt_after_run(5, ran_for=0.0) == 5
    assert backoff.attempt_after_run(5, ran_for=1000.0) == 0
    assert backoff.attempt_after_run(0, ran_for=0.0) == 0


def test_attempt_after_run_with_default_reset_after():
    backoff = Backoff(1, 3)  # reset_after = 2.0
    assert backoff.attempt_after_run(7, ran_for=2.0) == 0
    assert backoff.attempt_after_run(7, ran_for=1.999) == 7


# --- properties

bounds = st.tuples(
    st.floats(min_value=1e-6, max_value=1e6),
    st.floats(min_value=1.0, max_value=1e12),
).map(lambda pair: (pair[0], pair[0] * pair[1]))
multipliers = st.one_of(st.just(1.0), st.floats(min_value=1.0, max_value=100.0))
jitters = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=10.0))
attempts = st.one_of(st.integers(min_value=0, max_value=200), st.integers(min_value=0))
uniforms = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@given(bounds=bounds, multiplier=multipliers, jitter=jitters, attempt=attempts, u=uniforms)
def test_delay_within_bounds(bounds, multiplier, jitter, attempt, u):
    low, high = bounds
    backoff = Backoff(low, high, multiplier=multiplier, jitter=jitter)
    source = FakeRandom(u)
    delay = backoff.delay(attempt, random=source)
    assert backoff.min <= delay <= backoff.max * (1 + jitter)
    assert source.calls == (1 if jitter else 0)


@given(bounds=bounds, multiplier=multipliers, attempt=attempts)
def test_delay_non_decreasing_without_jitter(bounds, multiplier, attempt):
    low, high = bounds
    backoff = Backoff(low, high, multiplier=multiplier)
    first = backoff.delay(attempt, random=no_random)
    second = backoff.delay(attempt + 1, random=no_random)
    assert backoff.min <= first <= second <= backoff.max


@given(bounds=bounds, multiplier=multipliers, jitter=jitters, attempt=attempts, u=uniforms)
def test_jitter_scales_the_unjittered_delay(bounds, multiplier, jitter, attempt, u):
    low, high = bounds
    plain = Backoff(low, high, multiplier=multiplier).delay(attempt, random=no_random)
    jittered = Backoff(low, high, multiplier=multiplier, jitter=jitter)
    assert jittered.delay(attempt, random=FakeRandom(u)) == plain * (1.0 + jitter * u)


@given(bounds=bounds, attempt=st.integers(min_value=0), ran_for=st.floats(0, 1e13))
def test_attempt_after_run_property(bounds, attempt, ran_for):
    low, high = bounds
    backoff = Backoff(low, high)
    expected = 0 if ran_for >= (low + high) / 2 else attempt
    assert backoff.attempt_after_run(attempt, ran_for) == expected
