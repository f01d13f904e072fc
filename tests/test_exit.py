import pytest

import otp
from otp import (
    ChildAlreadyPresent,
    ChildAlreadyStarted,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    ChildSpec,
    ChildSpecError,
    ExitKind,
    ExitReason,
    Ignore,
    MaxChildrenReached,
    OtpError,
    Restart,
    RestartIntensityExceeded,
    Shutdown,
    StartError,
    SupervisorError,
    SupervisorNotRunning,
    _exit,
    exit_reason,
)

# --- ExitKind and ExitReason


def test_exit_kind_values():
    assert [kind.value for kind in ExitKind] == [
        "normal",
        "shutdown",
        "abnormal",
        "killed",
        "hung",
    ]


@pytest.mark.parametrize(
    ("kind", "abnormal"),
    [
        (ExitKind.NORMAL, False),
        (ExitKind.SHUTDOWN, False),
        (ExitKind.ABNORMAL, True),
        (ExitKind.KILLED, True),
    ],
)
def test_abnormal_property(kind, abnormal):
    assert ExitReason(kind).abnormal is abnormal
    assert ExitReason(kind, ValueError("x")).abnormal is abnormal


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (ExitReason(ExitKind.NORMAL), "normal"),
        (ExitReason(ExitKind.SHUTDOWN), "shutdown"),
        (ExitReason(ExitKind.KILLED), "killed"),
        (ExitReason(ExitKind.ABNORMAL), "abnormal"),
        (ExitReason(ExitKind.ABNORMAL, ValueError("boom")), "abnormal (ValueError: boom)"),
        (ExitReason(ExitKind.ABNORMAL, ValueError()), "abnormal (ValueError)"),
        (ExitReason(ExitKind.SHUTDOWN, Shutdown()), "shutdown"),
        (ExitReason(ExitKind.SHUTDOWN, Shutdown("drained")), "shutdown (Shutdown: drained)"),
        (
            ExitReason(ExitKind.ABNORMAL, ExceptionGroup("two", [ValueError(), KeyError()])),
            "abnormal (ExceptionGroup: two (2 sub-exceptions))",
        ),
    ],
)
def test_str(reason, text):
    assert str(reason) == text


def test_str_from_docs():
    reason = ExitReason(ExitKind.ABNORMAL, ValueError("boom"))
    assert (reason.abnormal, str(reason)) == (True, "abnormal (ValueError: boom)")


def test_default_exception_is_none():
    assert ExitReason(ExitKind.NORMAL).exception is None


def test_equality_ignores_the_exception():
    a = ExitReason(ExitKind.ABNORMAL, ValueError("a"))
    b = ExitReason(ExitKind.ABNORMAL, KeyError("b"))
    assert a == b
    assert hash(a) == hash(b)
    assert a == ExitReason(ExitKind.ABNORMAL)
    assert a != ExitReason(ExitKind.KILLED)


def test_module_constants():
    assert ExitReason(ExitKind.NORMAL) == _exit.NORMAL
    assert ExitReason(ExitKind.SHUTDOWN) == _exit.SHUTDOWN
    assert ExitReason(ExitKind.KILLED) == _exit.KILLED
    assert _exit.NORMAL.exception is None
    assert _exit.SHUTDOWN.exception is None
    assert _exit.KILLED.exception is None


# --- exit_reason


def test_shutdown_is_shutdown():
    exc = Shutdown("drained")
    reason = exit_reason(exc)
    assert reason.kind is ExitKind.SHUTDOWN
    assert reason.exception is exc
    assert reason.abnormal is False
    assert str(reason) == "shutdown (Shutdown: drained)"


def test_bare_shutdown_is_shutdown():
    reason = exit_reason(Shutdown())
    assert reason.kind is ExitKind.SHUTDOWN
    assert str(reason) == "shutdown"


def test_restart_intensity_exceeded_is_shutdown():
    exc = RestartIntensityExceeded("top", "db", 3, 5.0)
    reason = exit_reason(exc)
    assert reason.kind is ExitKind.SHUTDOWN
    assert reason.exception is exc
    assert reason.abnormal is False


def test_shutdown_subclass_is_shutdown():
    class Drained(Shutdown):
        pass

    assert exit_reason(Drained()).kind is ExitKind.SHUTDOWN


@pytest.mark.parametrize(
    "group",
    [
        ExceptionGroup("g", [Shutdown()]),
        ExceptionGroup("g", [Shutdown(), Shutdown("x")]),
        ExceptionGroup("g", [Shutdown(), RestartIntensityExceeded("top", "db", 1, 5.0)]),
        ExceptionGroup("g", [ExceptionGroup("inner", [Shutdown()]), Shutdown()]),
        ExceptionGroup("g", [ExceptionGroup("a", [ExceptionGroup("b", [Shutdown()])])]),
    ],
)
def test_group_of_only_shutdowns_is_shutdown(group):
    reason = exit_reason(group)
    assert reason.kind is ExitKind.SHUTDOWN
    assert reason.exception is group
    assert reason.abnormal is False


@pytest.mark.parametrize(
    "group",
    [
        ExceptionGroup("g", [Shutdown(), ValueError()]),
        ExceptionGroup("g", [ValueError(), Shutdown()]),
        ExceptionGroup("g", [ValueError()]),
        ExceptionGroup("g", [ExceptionGroup("inner", [Shutdown(), KeyError()])]),
        ExceptionGroup("g", [ExceptionGroup("inner", [Shutdown()]), RuntimeError()]),
        ExceptionGroup("g", [RestartIntensityExceeded("top", "db", 1, 5.0), Ignore()]),
    ],
)
def test_mixed_group_is_abnormal(group):
    reason = exit_reason(group)
    assert reason.kind is ExitKind.ABNORMAL
    assert reason.exception is group
    assert reason.abnormal is True


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("boom"),
        RuntimeError(),
        KeyError("k"),
        Ignore(),
        StartError("db", ValueError(), None),
        ChildSpecError("bad"),
        Exception("plain"),
    ],
)
def test_other_exceptions_are_abnormal(exc):
    reason = exit_reason(exc)
    assert reason.kind is ExitKind.ABNORMAL
    assert reason.exception is exc
    assert reason.abnormal is True


def test_exit_reason_does_not_modify_the_group():
    inner = [Shutdown(), ValueError()]
    group = ExceptionGroup("g", inner)
    exit_reason(group)
    assert list(group.exceptions) == inner


# --- Restart.restarts_after

RESTART_MATRIX = [
    (Restart.PERMANENT, ExitKind.NORMAL, True),
    (Restart.PERMANENT, ExitKind.SHUTDOWN, True),
    (Restart.PERMANENT, ExitKind.ABNORMAL, True),
    (Restart.PERMANENT, ExitKind.KILLED, True),
    (Restart.TRANSIENT, ExitKind.NORMAL, False),
    (Restart.TRANSIENT, ExitKind.SHUTDOWN, False),
    (Restart.TRANSIENT, ExitKind.ABNORMAL, True),
    (Restart.TRANSIENT, ExitKind.KILLED, True),
    (Restart.TEMPORARY, ExitKind.NORMAL, False),
    (Restart.TEMPORARY, ExitKind.SHUTDOWN, False),
    (Restart.TEMPORARY, ExitKind.ABNORMAL, False),
    (Restart.TEMPORARY, ExitKind.KILLED, False),
]


@pytest.mark.parametrize(("restart", "kind", "expected"), RESTART_MATRIX)
def test_restarts_after(restart, kind, expected):
    assert restart.restarts_after(ExitReason(kind)) is expected
    assert Restart(restart.value).restarts_after(ExitReason(kind)) is expected


@pytest.mark.parametrize(
    ("restart", "exc", "expected"),
    [
        (Restart.TRANSIENT, Shutdown(), False),
        (Restart.TRANSIENT, RestartIntensityExceeded("sub", "w", 1, 5.0), False),
        (Restart.TRANSIENT, ExceptionGroup("g", [Shutdown()]), False),
        (Restart.TRANSIENT, ValueError(), True),
        (Restart.TRANSIENT, ExceptionGroup("g", [Shutdown(), ValueError()]), True),
        (Restart.PERMANENT, Shutdown(), True),
        (Restart.PERMANENT, RestartIntensityExceeded("sub", "w", 1, 5.0), True),
        (Restart.TEMPORARY, ValueError(), False),
    ],
)
def test_restarts_after_classified_exceptions(restart, exc, expected):
    assert restart.restarts_after(exit_reason(exc)) is expected


# --- exceptions


def test_hierarchy():
    assert issubclass(Shutdown, Exception)
    assert not issubclass(Shutdown, OtpError)
    assert issubclass(RestartIntensityExceeded, Shutdown)
    assert not issubclass(RestartIntensityExceeded, OtpError)
    assert issubclass(Ignore, Exception)
    assert not issubclass(Ignore, OtpError)
    assert issubclass(ChildSpecError, OtpError)
    assert issubclass(ChildSpecError, ValueError)
    assert issubclass(StartError, OtpError)
    assert not issubclass(StartError, ValueError)
    assert issubclass(SupervisorError, OtpError)
    for cls in (
        ChildNotFound,
        ChildAlreadyStarted,
        ChildAlreadyPresent,
        ChildRunning,
        ChildRestarting,
        MaxChildrenReached,
        SupervisorNotRunning,
    ):
        assert issubclass(cls, SupervisorError)
    assert issubclass(ChildNotFound, LookupError)
    assert not issubclass(ChildAlreadyPresent, LookupError)


def test_child_spec_error_caught_as_value_error():
    with pytest.raises(ValueError, match=r"^bad spec$"):
        raise ChildSpecError("bad spec")


def test_child_not_found_caught_as_lookup_error():
    with pytest.raises(LookupError, match=r"^no child 'db'$"):
        raise ChildNotFound("no child 'db'")


def test_start_error():
    cause = ValueError("boom")
    error = StartError("db", cause, None)
    assert str(error) == "child 'db' failed to start: ValueError: boom"
    assert error.__cause__ is cause
    assert error.__suppress_context__ is True
    assert error.child_id == "db"
    assert error.spec is None


def test_start_error_with_spec_and_non_string_id():
    async def worker():
        pass

    spec = ChildSpec(("w", 1), worker)
    error = StartError(("w", 1), KeyError("k"), spec)
    assert str(error) == "child ('w', 1) failed to start: KeyError: 'k'"
    assert error.spec is spec
    assert error.child_id == ("w", 1)


def test_start_error_cause_without_message():
    assert str(StartError("db", RuntimeError(), None)) == "child 'db' failed to start: RuntimeError"


def test_start_error_keeps_cause_when_raised():
    cause = ValueError("boom")
    with pytest.raises(StartError) as info:
        raise StartError("db", cause, None)
    assert info.value.__cause__ is cause


@pytest.mark.parametrize(
    ("intensity", "period", "text"),
    [
        (3, 5.0, "(3 restarts in 5 s)"),
        (1, 5.0, "(1 restart in 5 s)"),
        (0, 0.5, "(0 restarts in 0.5 s)"),
        (2, 60, "(2 restarts in 60 s)"),
    ],
)
def test_restart_intensity_exceeded_message(intensity, period, text):
    exc = RestartIntensityExceeded("top", "db", intensity, period)
    assert str(exc) == (
        f"supervisor 'top' reached its maximum restart intensity {text} when child 'db' exited"
    )
    assert exc.supervisor == "top"
    assert exc.child_id == "db"
    assert exc.intensity == intensity
    assert exc.period == period
    assert exc.info == str(exc)
    assert isinstance(exc, Shutdown)


def test_restart_intensity_exceeded_non_string_child_id():
    exc = RestartIntensityExceeded("top", ("w", 7), 1, 1.0)
    assert str(exc) == (
        "supervisor 'top' reached its maximum restart intensity (1 restart in 1 s) "
        "when child ('w', 7) exited"
    )


def test_shutdown_info():
    bare = Shutdown()
    assert bare.info is None
    assert bare.args == ()
    assert str(bare) == ""
    detailed = Shutdown("drained")
    assert detailed.info == "drained"
    assert detailed.args == ("drained",)
    assert str(detailed) == "drained"
    zero = Shutdown(0)
    assert zero.info == 0
    assert zero.args == (0,)


def test_child_already_started_carries_child():
    child = object()
    exc = ChildAlreadyStarted("child 'db' is already started", child)  # type: ignore[arg-type]
    assert exc.child is child
    assert str(exc) == "child 'db' is already started"


def test_public_names():
    assert otp.exit_reason is exit_reason
    assert otp.ExitReason is ExitReason
    assert otp.ExitKind is ExitKind
    assert ExitReason.__module__ == "otp"
