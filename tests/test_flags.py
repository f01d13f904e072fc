import math
import random

import attrs
import pytest

import otp
from otp import AutoShutdown, Backoff, ChildSpecError, Strategy
from otp._flags import SupervisorFlags, make_flags

GOOD = {
    "strategy": "one_for_one",
    "intensity": 1,
    "period": 5,
    "backoff": None,
    "auto_shutdown": "never",
}


def flags(name="top", **overrides):
    return make_flags(name, **{**GOOD, **overrides})


def error_of(name="top", **overrides) -> str:
    with pytest.raises(ChildSpecError) as info:
        flags(name, **overrides)
    return str(info.value)


def test_enum_values():
    assert [m.value for m in Strategy] == ["one_for_one", "one_for_all", "rest_for_one"]
    assert [m.value for m in AutoShutdown] == ["never", "any_significant", "all_significant"]
    assert otp.Strategy is Strategy
    assert otp.AutoShutdown is AutoShutdown


def test_good_flags():
    result = flags()
    assert result == SupervisorFlags(
        strategy=Strategy.ONE_FOR_ONE,
        intensity=1,
        period=5.0,
        backoff=None,
        auto_shutdown=AutoShutdown.NEVER,
        max_children=None,
    )
    assert result.strategy is Strategy.ONE_FOR_ONE
    assert result.auto_shutdown is AutoShutdown.NEVER
    assert type(result.period) is float
    assert result.max_children is None


def test_flags_frozen():
    result = flags()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.intensity = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("one_for_one", Strategy.ONE_FOR_ONE),
        ("one_for_all", Strategy.ONE_FOR_ALL),
        ("rest_for_one", Strategy.REST_FOR_ONE),
        (Strategy.ONE_FOR_ONE, Strategy.ONE_FOR_ONE),
        (Strategy.ONE_FOR_ALL, Strategy.ONE_FOR_ALL),
        (Strategy.REST_FOR_ONE, Strategy.REST_FOR_ONE),
    ],
)
def test_strategy_choices(strategy, expected):
    assert flags(strategy=strategy).strategy is expected


@pytest.mark.parametrize(
    ("strategy", "got"),
    [
        ("simple_one_for_one", "'simple_one_for_one'"),
        ("ONE_FOR_ONE", "'ONE_FOR_ONE'"),
        ("", "''"),
        (None, "None"),
        (1, "1"),
        (AutoShutdown.NEVER, "<AutoShutdown.NEVER: 'never'>"),
    ],
)
def test_strategy_rejected(strategy, got):
    assert error_of(strategy=strategy) == (
        "supervisor 'top': strategy must be one of 'one_for_one', 'one_for_all', "
        f"'rest_for_one' (got {got})"
    )


@pytest.mark.parametrize(
    ("auto_shutdown", "expected"),
    [
        ("never", AutoShutdown.NEVER),
        ("any_significant", AutoShutdown.ANY_SIGNIFICANT),
        ("all_significant", AutoShutdown.ALL_SIGNIFICANT),
        (AutoShutdown.NEVER, AutoShutdown.NEVER),
        (AutoShutdown.ANY_SIGNIFICANT, AutoShutdown.ANY_SIGNIFICANT),
        (AutoShutdown.ALL_SIGNIFICANT, AutoShutdown.ALL_SIGNIFICANT),
    ],
)
def test_auto_shutdown_choices(auto_shutdown, expected):
    assert flags(auto_shutdown=auto_shutdown).auto_shutdown is expected


@pytest.mark.parametrize(
    ("auto_shutdown", "got"),
    [("always", "'always'"), ("Never", "'Never'"), (None, "None"), (False, "False")],
)
def test_auto_shutdown_rejected(auto_shutdown, got):
    assert error_of(auto_shutdown=auto_shutdown) == (
        "supervisor 'top': auto_shutdown must be one of 'never', 'any_significant', "
        f"'all_significant' (got {got})"
    )


@pytest.mark.parametrize("intensity", [0, 1, 3, 1000])
def test_intensity_accepted(intensity):
    result = flags(intensity=intensity)
    assert result.intensity == intensity
    assert type(result.intensity) is int


@pytest.mark.parametrize(
    ("intensity", "got"),
    [
        (-1, "-1"),
        (1.5, "1.5"),
        (1.0, "1.0"),
        (True, "True"),
        (False, "False"),
        ("1", "'1'"),
        (None, "None"),
        (math.inf, "inf"),
    ],
)
def test_intensity_rejected(intensity, got):
    assert error_of(intensity=intensity) == (
        f"supervisor 'top': intensity must be an int >= 0 (got {got})"
    )


@pytest.mark.parametrize(
    ("period", "expected"), [(5, 5.0), (0.5, 0.5), (1e-9, 1e-9), (3600, 3600.0)]
)
def test_period_accepted(period, expected):
    result = flags(period=period)
    assert result.period == expected
    assert type(result.period) is float


@pytest.mark.parametrize(
    ("period", "got"),
    [
        (0, "0"),
        (0.0, "0.0"),
        (-1, "-1"),
        (-0.5, "-0.5"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (True, "True"),
        ("5", "'5'"),
        (None, "None"),
    ],
)
def test_period_rejected(period, got):
    assert error_of(period=period) == (
        f"supervisor 'top': period must be a finite number of seconds > 0 (got {got})"
    )


def test_period_too_large_for_a_float_rejected():
    # An int that no float can hold is not a finite number of seconds either.
    huge = 10**400
    assert error_of(period=huge) == (
        f"supervisor 'top': period must be a finite number of seconds > 0 (got {huge!r})"
    )


def test_backoff_accepted():
    backoff = Backoff(min=0.1, max=2.0)
    assert flags(backoff=backoff).backoff is backoff
    assert flags(backoff=None).backoff is None


@pytest.mark.parametrize(
    ("backoff", "got"),
    [
        (0.5, "0.5"),
        ("exponential", "'exponential'"),
        ({"min": 1}, "{'min': 1} that is a dict"),
        ((0.1, 2.0), "(0.1, 2.0) that is a tuple"),
        (False, "False"),
    ],
)
def test_backoff_rejected(backoff, got):
    assert error_of(backoff=backoff) == (
        f"supervisor 'top': backoff must be an otp.Backoff or None (got {got})"
    )


@pytest.mark.parametrize("max_children", [None, 1, 2, 10_000])
def test_max_children_accepted(max_children):
    assert flags(max_children=max_children).max_children == max_children


def test_max_children_defaults_to_none():
    assert make_flags("top", **GOOD).max_children is None


@pytest.mark.parametrize(
    ("max_children", "got"),
    [
        (0, "0"),
        (-1, "-1"),
        (1.5, "1.5"),
        (2.0, "2.0"),
        (True, "True"),
        (False, "False"),
        ("3", "'3'"),
        (math.inf, "inf"),
    ],
)
def test_max_children_rejected(max_children, got):
    assert error_of(max_children=max_children) == (
        f"supervisor 'top': max_children must be an int >= 1 or None (got {got})"
    )


@pytest.mark.parametrize(("name", "prefix"), [(None, "supervisor: "), ("", "supervisor: ")])
def test_unnamed_supervisor(name, prefix):
    assert error_of(name, intensity=-1) == prefix + "intensity must be an int >= 0 (got -1)"


def test_names_are_repr():
    assert error_of("it's", period=0) == (
        'supervisor "it\'s": period must be a finite number of seconds > 0 (got 0)'
    )


def test_check_order_strategy_first():
    message = error_of(strategy="bad", auto_shutdown="bad", intensity=-1, period=0)
    assert message.startswith("supervisor 'top': strategy must be one of")


def test_errors_are_value_errors():
    with pytest.raises(ValueError, match=r"^supervisor 'top': intensity must be an int >= 0"):
        flags(intensity=-1)


# --- the jitter source ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "got"),
    [
        (random.Random(1), r"that is a Random\); pass its bound method"),
        (0.5, r"\(got 0\.5\)"),
        ("random", r"\(got 'random'\)"),
        (random.Random, r"that is a type\)"),
    ],
)
def test_a_random_source_of_the_wrong_type_is_rejected_at_declaration(bad, got):
    expected = r"supervisor 'pool': random must be a callable returning a float in \[0, 1\)"
    with pytest.raises(ChildSpecError, match=expected + r".*" + got):
        otp.supervisor_spec("pool", random=bad, backoff=Backoff(min=0.1, max=1.0, jitter=0.5))
    with pytest.raises(ChildSpecError, match=expected):
        otp.dynamic_supervisor_spec("pool", otp.ChildSpec("w", _idle), random=bad)


async def test_a_supervisor_with_a_bad_random_source_starts_nothing():
    started = []

    async def child(*, task_status):
        started.append(1)
        task_status.started()

    spec = otp.ChildSpec("c", child)
    with pytest.raises(ChildSpecError, match="random must be a callable"):
        async with otp.open_supervisor([spec], random=3):
            pass
    with pytest.raises(ChildSpecError, match="random must be a callable"):
        await otp.supervisor([spec], random=random.Random(2))
    with pytest.raises(ChildSpecError, match="random must be a callable"):
        await otp.dynamic_supervisor(spec, random=random.Random(2))
    assert started == []


def test_a_good_random_source_is_accepted_and_not_called():
    calls = []

    def source() -> float:
        calls.append(1)
        return 0.0

    otp.supervisor_spec("pool", random=source, backoff=Backoff(min=0.1, max=1.0, jitter=0.5))
    otp.supervisor_spec("pool", random=random.Random(3).random)
    assert calls == []


async def _idle(*, task_status):
    task_status.started()
