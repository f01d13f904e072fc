"""Bad supervisor names, hooks and start functions are rejected when declared (issue 9)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

import otp


async def idle(*, task_status: Any) -> None:
    task_status.started()


TEMPLATE = otp.ChildSpec("t", idle)

DECLARE = {
    "supervisor_spec": lambda **kw: otp.supervisor_spec("s", [], **kw),
    "dynamic_supervisor_spec": lambda **kw: otp.dynamic_supervisor_spec("s", TEMPLATE, **kw),
}


@pytest.mark.parametrize("declare", list(DECLARE))
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hooks": 5}, "supervisor 's': hooks must be an iterable of callables (got 5)"),
        (
            {"hooks": "print"},
            "supervisor 's': hooks must be an iterable of callables (got 'print')",
        ),
        (
            {"hooks": [print, 1]},
            "supervisor 's': hooks[1] must be a callable taking an otp.SupervisorEvent (got 1)",
        ),
        ({"name": 3}, "supervisor: name must be a str or None (got 3)"),
    ],
)
def test_bad_hooks_and_names_are_rejected_when_a_spec_is_declared(
    declare: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(otp.ChildSpecError) as info:
        DECLARE[declare](**options)
    assert str(info.value) == message


@pytest.mark.parametrize("run", ["supervisor", "dynamic_supervisor"])
@pytest.mark.parametrize("options", [{"hooks": 5}, {"hooks": [None]}, {"name": 3}])
async def test_bad_hooks_and_names_fail_a_supervisor_before_it_starts(
    run: str, options: dict[str, Any]
) -> None:
    opener = (
        otp.open_supervisor([], **options)
        if run == "supervisor"
        else otp.open_dynamic_supervisor(TEMPLATE, **options)
    )
    with pytest.raises(otp.ChildSpecError, match=r"hooks|name"):
        async with opener:
            pytest.fail("the supervisor started")


def test_hooks_given_as_a_generator_are_kept() -> None:
    spec = otp.supervisor_spec("s", [], hooks=(hook for hook in [print]))
    assert spec.start.hooks == (print,)


class SyncCallable:
    def __call__(self, *, task_status: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("start", "got"),
    [
        (print, "got builtin 'print'"),
        (len, "got builtin 'len'"),
        (functools.partial(max, 1), "got builtin 'max'"),
        (dict.get, "got builtin 'dict.get'"),
        (SyncCallable(), "got an instance of 'SyncCallable', whose __call__ is not async"),
    ],
)
def test_a_start_that_cannot_be_an_async_child_is_rejected(start: Any, got: str) -> None:
    with pytest.raises(otp.ChildSpecError) as info:
        otp.ChildSpec("c", start)
    assert str(info.value).startswith("child 'c': start must be an async")
    assert got in str(info.value)
