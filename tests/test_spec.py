import functools
import math

import attrs
import pytest
import trio

import otp
from otp import (
    BRUTAL_KILL,
    INFINITY,
    ChildSpec,
    ChildSpecError,
    ChildType,
    Restart,
    ShutdownMode,
    check_child_specs,
)

# --- start functions used as fixtures (never called: calling would make unawaited coroutines)


async def worker():
    pass


async def worker_with_args(a, b):
    pass


async def worker_with_status(*, task_status=trio.TASK_STATUS_IGNORED):
    pass


async def worker_with_positional_status(url, task_status=trio.TASK_STATUS_IGNORED):
    pass


async def worker_with_kwargs(url, **kwargs):
    pass


async def worker_with_positional_only_status(task_status, /):
    pass


def sync_worker():
    pass


async def async_generator_worker():
    yield


class AsyncCallable:
    async def __call__(self):
        pass


class AsyncCallableWithStatus:
    async def __call__(self, *, task_status=trio.TASK_STATUS_IGNORED):
        pass


class Holder:
    async def async_method(self):
        pass

    def sync_method(self):
        pass


def error_of(*args, **kwargs) -> str:
    with pytest.raises(ChildSpecError) as info:
        ChildSpec(*args, **kwargs)
    return str(info.value)


# --- defaults


def test_defaults():
    spec = ChildSpec("db", worker)
    assert spec.id == "db"
    assert spec.start is worker
    assert spec.args == ()
    assert spec.restart is Restart.PERMANENT
    assert spec.shutdown == 5.0
    assert type(spec.shutdown) is float
    assert spec.type is ChildType.WORKER
    assert spec.significant is False
    assert spec.takes_task_status is False


def test_supervisor_default_shutdown_is_infinity():
    spec = ChildSpec("pool", worker, type="supervisor")
    assert spec.type is ChildType.SUPERVISOR
    assert spec.shutdown is INFINITY


def test_supervisor_enum_type_default_shutdown_is_infinity():
    assert ChildSpec("pool", worker, type=ChildType.SUPERVISOR).shutdown is INFINITY


def test_supervisor_explicit_shutdown_kept():
    assert ChildSpec("pool", worker, type="supervisor", shutdown=3).shutdown == 3.0
    spec = ChildSpec("pool", worker, type="supervisor", shutdown="brutal_kill")
    assert spec.shutdown is BRUTAL_KILL


def test_worker_explicit_none_shutdown_is_default():
    assert ChildSpec("db", worker, shutdown=None).shutdown == 5.0


def test_constants_are_the_enum_members():
    assert BRUTAL_KILL is ShutdownMode.BRUTAL_KILL
    assert INFINITY is ShutdownMode.INFINITY
    assert BRUTAL_KILL == "brutal_kill"
    assert INFINITY == "infinity"


def test_enum_values():
    assert [member.value for member in Restart] == ["permanent", "transient", "temporary"]
    assert [member.value for member in ChildType] == ["worker", "supervisor"]
    assert [member.value for member in ShutdownMode] == ["brutal_kill", "infinity"]


# --- id


@pytest.mark.parametrize(
    ("child_id", "expected"),
    [
        ([1], "child [1]: id must be hashable (got [1] that is a list)"),
        ({}, "child {}: id must be hashable (got {} that is a dict)"),
        ({1}, "child {1}: id must be hashable (got {1} that is a set)"),
        (("a", []), "child ('a', []): id must be hashable (got ('a', []) that is a tuple)"),
    ],
)
def test_id_must_be_hashable(child_id, expected):
    assert error_of(child_id, worker) == expected


@pytest.mark.parametrize("child_id", ["db", 42, ("db", 1), frozenset({"a"}), None, 1.5])
def test_hashable_ids_accepted(child_id):
    assert ChildSpec(child_id, worker).id == child_id


def test_id_checked_before_start():
    assert error_of([1], 42) == "child [1]: id must be hashable (got [1] that is a list)"


@pytest.mark.parametrize(
    ("child_id", "prefix"),
    [(42, "child 42: "), (("db", 1), "child ('db', 1): "), (None, "child None: ")],
)
def test_message_names_non_string_id(child_id, prefix):
    assert error_of(child_id, worker, restart="always") == (
        prefix + "restart must be one of 'permanent', 'transient', 'temporary' (got 'always')"
    )


# --- start


@pytest.mark.parametrize(
    ("start", "got"),
    [
        (42, "42"),
        (None, "None"),
        ("worker", "'worker'"),
        ([worker], f"[{worker!r}] that is a list"),
    ],
)
def test_start_must_be_callable(start, got):
    assert error_of("db", start) == f"child 'db': start must be an async callable (got {got})"


@pytest.mark.parametrize(
    ("start", "described"),
    [
        (sync_worker, "sync function 'sync_worker'"),
        (lambda: 1, "sync function '<lambda>'"),
        (lambda url: worker_with_args(url, 1), "sync function '<lambda>'"),
        (async_generator_worker, "async generator 'async_generator_worker'"),
        (functools.partial(sync_worker), "sync function 'sync_worker'"),
        (
            functools.partial(functools.partial(async_generator_worker)),
            "async generator 'async_generator_worker'",
        ),
        (Holder().sync_method, "sync function 'Holder.sync_method'"),
    ],
)
def test_start_must_be_async(start, described):
    assert error_of("db", start) == (
        f"child 'db': start must be an async function (got {described}); define it with 'async def'"
    )


@pytest.mark.parametrize(
    "start",
    [
        worker,
        functools.partial(worker_with_args, 1),
        functools.partial(functools.partial(worker_with_args, 1), 2),
        AsyncCallable(),
        Holder().async_method,
    ],
)
def test_async_callables_accepted(start):
    assert ChildSpec("db", start).start is start


# --- args


@pytest.mark.parametrize(
    ("args", "expected"),
    [((1, 2), (1, 2)), ([1, 2], (1, 2)), ((), ()), ([], ())],
)
def test_args_tuple_or_list(args, expected):
    spec = ChildSpec("db", worker_with_args, args)
    assert spec.args == expected
    assert type(spec.args) is tuple


def test_args_list_is_copied():
    args = [1, 2]
    spec = ChildSpec("db", worker_with_args, args)
    args.append(3)
    assert spec.args == (1, 2)


def test_args_keyword():
    assert ChildSpec("db", worker_with_args, args=["x", "y"]).args == ("x", "y")


@pytest.mark.parametrize(
    ("args", "got"),
    [
        ("ab", "'ab'"),
        ({"a": 1}, "{'a': 1} that is a dict"),
        (None, "None"),
        (5, "5"),
        ({1, 2}, "{1, 2} that is a set"),
    ],
)
def test_args_rejected(args, got):
    assert error_of("db", worker, args) == (
        f"child 'db': args must be a tuple or a list (got {got})"
    )


# --- restart


@pytest.mark.parametrize(
    ("restart", "expected"),
    [
        ("permanent", Restart.PERMANENT),
        ("transient", Restart.TRANSIENT),
        ("temporary", Restart.TEMPORARY),
        (Restart.PERMANENT, Restart.PERMANENT),
        (Restart.TRANSIENT, Restart.TRANSIENT),
        (Restart.TEMPORARY, Restart.TEMPORARY),
    ],
)
def test_restart_string_and_enum_forms(restart, expected):
    assert ChildSpec("db", worker, restart=restart).restart is expected


def test_restart_message_from_docs():
    assert error_of("db", worker, restart="always") == (
        "child 'db': restart must be one of 'permanent', 'transient', 'temporary' (got 'always')"
    )


@pytest.mark.parametrize(
    ("restart", "got"),
    [
        ("PERMANENT", "'PERMANENT'"),
        ("", "''"),
        (None, "None"),
        (1, "1"),
        (True, "True"),
        (["permanent"], "['permanent'] that is a list"),
    ],
)
def test_restart_rejected(restart, got):
    assert error_of("db", worker, restart=restart) == (
        f"child 'db': restart must be one of 'permanent', 'transient', 'temporary' (got {got})"
    )


# --- type


@pytest.mark.parametrize(
    ("child_type", "expected"),
    [
        ("worker", ChildType.WORKER),
        ("supervisor", ChildType.SUPERVISOR),
        (ChildType.WORKER, ChildType.WORKER),
        (ChildType.SUPERVISOR, ChildType.SUPERVISOR),
    ],
)
def test_type_string_and_enum_forms(child_type, expected):
    assert ChildSpec("db", worker, type=child_type).type is expected


@pytest.mark.parametrize(
    ("child_type", "got"),
    [("process", "'process'"), ("Worker", "'Worker'"), (None, "None"), (0, "0")],
)
def test_type_rejected(child_type, got):
    assert error_of("db", worker, type=child_type) == (
        f"child 'db': type must be one of 'worker', 'supervisor' (got {got})"
    )


# --- shutdown


@pytest.mark.parametrize(
    ("shutdown", "expected"),
    [
        (0, 0.0),
        (10, 10.0),
        (0.0, 0.0),
        (2.5, 2.5),
        (1e9, 1e9),
    ],
)
def test_shutdown_seconds(shutdown, expected):
    value = ChildSpec("db", worker, shutdown=shutdown).shutdown
    assert value == expected
    assert type(value) is float


@pytest.mark.parametrize(
    ("shutdown", "expected"),
    [
        ("brutal_kill", BRUTAL_KILL),
        ("infinity", INFINITY),
        (ShutdownMode.BRUTAL_KILL, BRUTAL_KILL),
        (ShutdownMode.INFINITY, INFINITY),
        (math.inf, INFINITY),
        (float("inf"), INFINITY),
    ],
)
def test_shutdown_modes(shutdown, expected):
    assert ChildSpec("db", worker, shutdown=shutdown).shutdown is expected


def test_shutdown_int_beyond_any_float_is_infinity():
    assert ChildSpec("db", worker, shutdown=10**400).shutdown is INFINITY


def test_shutdown_modes_for_supervisor():
    spec = ChildSpec("pool", worker, type="supervisor", shutdown=math.inf)
    assert spec.shutdown is INFINITY


@pytest.mark.parametrize(
    ("shutdown", "got"),
    [
        (-1, "-1"),
        (-0.5, "-0.5"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (True, "True"),
        (False, "False"),
        ("kill", "'kill'"),
        ("5", "'5'"),
        ("BRUTAL_KILL", "'BRUTAL_KILL'"),
        ("", "''"),
        ([5], "[5] that is a list"),
    ],
)
def test_shutdown_rejected(shutdown, got):
    assert error_of("db", worker, shutdown=shutdown) == (
        "child 'db': shutdown must be a number of seconds >= 0, 'brutal_kill' or 'infinity' "
        f"(got {got})"
    )


# --- significant


@pytest.mark.parametrize("restart", ["transient", "temporary"])
def test_significant_with_transient_or_temporary(restart):
    spec = ChildSpec("job", worker, restart=restart, significant=True)
    assert spec.significant is True


@pytest.mark.parametrize(
    ("significant", "got"),
    [(1, "1"), (0, "0"), (None, "None"), ("yes", "'yes'"), (1.0, "1.0")],
)
def test_significant_must_be_bool(significant, got):
    assert error_of("job", worker, restart="transient", significant=significant) == (
        f"child 'job': significant must be True or False (got {got})"
    )


@pytest.mark.parametrize("restart", ["permanent", Restart.PERMANENT, None])
def test_significant_permanent_rejected(restart):
    kwargs = {} if restart is None else {"restart": restart}
    assert error_of("job", worker, significant=True, **kwargs) == (
        "child 'job': a significant child must be 'transient' or 'temporary' "
        "(got restart='permanent'); a permanent child never exits by itself for good"
    )


def test_significance_is_compared():
    plain = ChildSpec("job", worker, restart="transient")
    significant = ChildSpec("job", worker, restart="transient", significant=True)
    assert plain != significant


def test_not_significant_permanent_accepted():
    assert ChildSpec("job", worker, significant=False).significant is False


# --- takes_task_status


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (worker, False),
        (worker_with_args, False),
        (worker_with_status, True),
        (worker_with_positional_status, True),
        (worker_with_kwargs, True),
        (worker_with_positional_only_status, False),
        (functools.partial(worker_with_positional_status, "url"), True),
        (functools.partial(worker_with_args, 1, 2), False),
        (functools.partial(worker_with_kwargs, "url"), True),
        (AsyncCallable(), False),
        (AsyncCallableWithStatus(), True),
        (Holder().async_method, False),
    ],
)
def test_takes_task_status(start, expected):
    assert ChildSpec("db", start).takes_task_status is expected


# --- frozen, evolve, equality


def test_frozen():
    spec = ChildSpec("db", worker)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        spec.restart = Restart.TEMPORARY  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        spec.id = "other"  # type: ignore[misc]
    assert spec.restart is Restart.PERMANENT


def test_evolve_works():
    spec = ChildSpec("db", worker_with_status, shutdown=3)
    changed = attrs.evolve(spec, restart="transient")
    assert changed.restart is Restart.TRANSIENT
    assert changed.id == "db"
    assert changed.start is worker_with_status
    assert changed.shutdown == 3.0
    assert changed.takes_task_status is True
    assert spec.restart is Restart.PERMANENT


def test_evolve_recomputes_takes_task_status():
    spec = ChildSpec("db", worker_with_status)
    assert attrs.evolve(spec, start=worker).takes_task_status is False


def test_evolve_revalidates():
    spec = ChildSpec("db", worker)
    with pytest.raises(ChildSpecError) as info:
        attrs.evolve(spec, restart="always")
    assert str(info.value) == (
        "child 'db': restart must be one of 'permanent', 'transient', 'temporary' (got 'always')"
    )
    with pytest.raises(ChildSpecError) as info:
        attrs.evolve(spec, significant=True)
    assert str(info.value).startswith("child 'db': a significant child must be")


def test_equality_and_hash():
    a = ChildSpec("db", worker_with_args, [1, 2], restart="transient", shutdown=3)
    b = ChildSpec("db", worker_with_args, (1, 2), restart=Restart.TRANSIENT, shutdown=3.0)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    "other",
    [
        ChildSpec("other", worker_with_args, (1, 2)),
        ChildSpec("db", worker, (1, 2)),
        ChildSpec("db", worker_with_args, (1, 3)),
        ChildSpec("db", worker_with_args, (1, 2), restart="temporary"),
        ChildSpec("db", worker_with_args, (1, 2), shutdown=1),
        ChildSpec("db", worker_with_args, (1, 2), type="supervisor"),
    ],
)
def test_inequality(other):
    base = ChildSpec("db", worker_with_args, (1, 2))
    assert base != other


def test_repr_hides_takes_task_status():
    text = repr(ChildSpec("db", worker))
    assert "takes_task_status" not in text
    assert text.startswith("ChildSpec(id='db', start=")
    assert text.endswith(
        "args=(), restart=<Restart.PERMANENT: 'permanent'>, shutdown=5.0, "
        "type=<ChildType.WORKER: 'worker'>, significant=False, liveness=None)"
    )


def test_error_is_value_error():
    with pytest.raises(ValueError, match=r"^child 'db': restart must be one of"):
        ChildSpec("db", worker, restart="always")


# --- check_child_specs


def spec(child_id, **kwargs):
    return ChildSpec(child_id, worker, **kwargs)


def check_error(*args, **kwargs) -> str:
    with pytest.raises(ChildSpecError) as info:
        check_child_specs(*args, **kwargs)
    return str(info.value)


def test_check_returns_tuple():
    specs = [spec("a"), spec("b"), spec("c")]
    result = check_child_specs(specs)
    assert type(result) is tuple
    assert result == tuple(specs)
    assert all(x is y for x, y in zip(result, specs, strict=True))


def test_check_accepts_tuple_and_empty():
    specs = (spec("a"), spec("b"))
    assert check_child_specs(specs) == specs
    assert check_child_specs([]) == ()
    assert check_child_specs(()) == ()


def test_check_is_reexported():
    assert otp.check_child_specs is check_child_specs


@pytest.mark.parametrize(
    ("children", "got"),
    [
        ("abc", "'abc'"),
        (None, "None"),
        (42, "42"),
        (frozenset(), "frozenset() that is a frozenset"),
        ({}, "{} that is a dict"),
    ],
)
def test_check_non_list(children, got):
    assert check_error(children) == f"children must be a list or tuple of ChildSpec (got {got})"


def test_check_generator_rejected():
    generator = (s for s in [spec("a")])
    message = check_error(generator)
    assert message.startswith("children must be a list or tuple of ChildSpec (got <generator ")
    assert message.endswith("> that is a generator)")


def test_check_single_spec_rejected():
    single = spec("a")
    assert check_error(single) == (
        f"children must be a list or tuple of ChildSpec (got {single!r} that is a ChildSpec)"
    )


def test_check_non_list_names_supervisor():
    assert check_error("abc", supervisor="top") == (
        "supervisor 'top': children must be a list or tuple of ChildSpec (got 'abc')"
    )


@pytest.mark.parametrize(
    ("entry", "got"),
    [
        ("c", "'c'"),
        (None, "None"),
        ({"id": "c"}, "{'id': 'c'} that is a dict"),
        (worker, f"{worker!r} that is a function"),
    ],
)
def test_check_non_spec_entry_names_index(entry, got):
    assert (
        check_error([spec("a"), spec("b"), entry]) == f"children[2] must be a ChildSpec (got {got})"
    )


def test_check_non_spec_entry_names_supervisor():
    assert check_error([spec("a"), 7], supervisor="top") == (
        "supervisor 'top': children[1] must be a ChildSpec (got 7)"
    )


def test_check_duplicate_ids_name_both_indexes():
    assert check_error([spec("a"), spec("b"), spec("a")]) == (
        "duplicate child id 'a' (children[0] and children[2])"
    )


def test_check_duplicate_ids_from_docs():
    assert check_error([spec("a"), spec("a")]) == (
        "duplicate child id 'a' (children[0] and children[1])"
    )


def test_check_duplicate_ids_first_occurrence():
    assert check_error([spec("x"), spec("a"), spec("b"), spec("a"), spec("a")]) == (
        "duplicate child id 'a' (children[1] and children[3])"
    )


def test_check_duplicate_equal_ids_of_different_types():
    assert check_error([spec(1), spec(1.0)], supervisor="top") == (
        "supervisor 'top': duplicate child id 1.0 (children[0] and children[1])"
    )


def test_check_duplicate_tuple_ids():
    assert check_error([spec(("w", 1)), spec(("w", 2)), spec(("w", 1))]) == (
        "duplicate child id ('w', 1) (children[0] and children[2])"
    )


SIGNIFICANT_NEVER = (
    "child 'job' is significant but auto_shutdown is 'never'; set auto_shutdown to "
    "'any_significant' or 'all_significant', or drop significant=True"
)


def test_check_significant_with_never_rejected():
    children = [spec("a"), spec("job", restart="transient", significant=True)]
    assert check_error(children) == SIGNIFICANT_NEVER
    assert check_error(children, auto_shutdown="never") == SIGNIFICANT_NEVER
    assert check_error(children, auto_shutdown=otp.AutoShutdown.NEVER) == SIGNIFICANT_NEVER
    assert check_error(children, supervisor="top") == "supervisor 'top': " + SIGNIFICANT_NEVER


@pytest.mark.parametrize(
    "auto_shutdown",
    [
        "any_significant",
        "all_significant",
        otp.AutoShutdown.ANY_SIGNIFICANT,
        otp.AutoShutdown.ALL_SIGNIFICANT,
    ],
)
def test_check_significant_allowed_with_auto_shutdown(auto_shutdown):
    children = [spec("a"), spec("job", restart="temporary", significant=True)]
    assert check_child_specs(children, auto_shutdown=auto_shutdown) == tuple(children)


@pytest.mark.parametrize("auto_shutdown", ["never", "any_significant", "all_significant"])
def test_check_non_significant_with_any_auto_shutdown(auto_shutdown):
    children = [spec("a"), spec("b", restart="transient")]
    assert check_child_specs(children, auto_shutdown=auto_shutdown) == tuple(children)


@pytest.mark.parametrize(
    ("auto_shutdown", "got"),
    [("sometimes", "'sometimes'"), ("NEVER", "'NEVER'"), (None, "None"), (0, "0")],
)
def test_check_bad_auto_shutdown(auto_shutdown, got):
    expected = (
        f"auto_shutdown must be one of 'never', 'any_significant', 'all_significant' (got {got})"
    )
    assert check_error([spec("a")], auto_shutdown=auto_shutdown) == expected
    assert check_error([], auto_shutdown=auto_shutdown) == expected
    assert check_error([], auto_shutdown=auto_shutdown, supervisor="top") == (
        "supervisor 'top': " + expected
    )


def test_check_empty_supervisor_name_is_omitted():
    assert check_error("abc", supervisor="") == (
        "children must be a list or tuple of ChildSpec (got 'abc')"
    )
