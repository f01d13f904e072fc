"""Trees declared as data: loading TOML, JSON and dicts, every error with its path, saving."""

from __future__ import annotations

import functools
import json
import math
import tomllib
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import otp
from otp._dynamic import NestedDynamicSupervisor
from otp._server import ServerStart
from otp._supervisor import NestedSupervisor
from otp._tree import Tree, TreeError, load_tree
from tests import tree_targets as targets

T = "tests.tree_targets"


def problems_of(data: object) -> list[str]:
    with pytest.raises(TreeError) as info:
        Tree.from_dict(data)  # type: ignore[arg-type]
    return list(info.value.problems)


def child_problems(*children: object, **root: object) -> list[str]:
    return problems_of({**root, "children": list(children)})


# --- loading every field ----------------------------------------------------------------------

FULL_TOML = f"""
name = "shop"
strategy = "rest_for_one"
intensity = 5
period = 10
auto_shutdown = "any_significant"

[backoff]
min = 0.1
max = 5.0
multiplier = 3.0
jitter = 0.25
reset_after = 2.0

[[children]]
id = "counter"
start = "{T}:Counter"
name = "counter"
args = [10]

[[children]]
id = "db"
start = "{T}:with_options"
args = ["postgres://localhost/shop", 4]
restart = "transient"
shutdown = 10
type = "worker"
significant = true

[children.liveness]
interval = 2.0
threshold = 10.0
acceptable_pause = 1.0
min_std_deviation = 0.5
max_sample_size = 50

[[children]]
id = 7
start = "{T}:plain"
restart = "temporary"
shutdown = "brutal_kill"
type = "supervisor"

[[children]]
id = "workers"
type = "supervisor"
strategy = "one_for_all"
intensity = 10
period = 1.5
auto_shutdown = "all_significant"
restart = "transient"
shutdown = "infinity"
name = "shop/workers"

[children.backoff]
min = 1
max = 1

[[children.children]]
id = "fetcher"
start = "{T}:idle"
args = [1, 2.5, "x", true, [1, [2]], {{ key = "value", nested = {{ deep = [] }} }}]
restart = "transient"
significant = true

[[children.children]]
id = "holder"
start = "{T}:Holder.start"

[[children]]
id = "jobs"
max_children = 100
intensity = 0
period = 2.0
auto_shutdown = "any_significant"
shutdown = 30.0

[children.template]
id = "job"
start = "{T}:idle"
args = ["job"]
restart = "temporary"
significant = true
"""


def expected_full_tree() -> Tree:
    liveness = otp.Heartbeat(
        2.0, threshold=10.0, acceptable_pause=1.0, min_std_deviation=0.5, max_sample_size=50
    )
    fetcher_args = [1, 2.5, "x", True, [1, [2]], {"key": "value", "nested": {"deep": []}}]
    return Tree(
        [
            targets.Counter.child_spec(10, id="counter", name="counter"),
            otp.ChildSpec(
                "db",
                targets.with_options,
                ["postgres://localhost/shop", 4],
                restart="transient",
                shutdown=10.0,
                significant=True,
                liveness=liveness,
            ),
            otp.ChildSpec(
                7, targets.plain, restart="temporary", shutdown="brutal_kill", type="supervisor"
            ),
            otp.supervisor_spec(
                "workers",
                [
                    otp.ChildSpec(
                        "fetcher",
                        targets.idle,
                        fetcher_args,
                        restart="transient",
                        significant=True,
                    ),
                    otp.ChildSpec("holder", targets.Holder.start),
                ],
                strategy="one_for_all",
                intensity=10,
                period=1.5,
                backoff=otp.Backoff(1.0, 1.0),
                auto_shutdown="all_significant",
                restart="transient",
                shutdown=otp.INFINITY,
                name="shop/workers",
            ),
            otp.dynamic_supervisor_spec(
                "jobs",
                otp.ChildSpec("job", targets.idle, ["job"], restart="temporary", significant=True),
                max_children=100,
                intensity=0,
                period=2.0,
                auto_shutdown="any_significant",
                shutdown=30.0,
            ),
        ],
        strategy="rest_for_one",
        intensity=5,
        period=10.0,
        backoff=otp.Backoff(0.1, 5.0, multiplier=3.0, jitter=0.25, reset_after=2.0),
        auto_shutdown="any_significant",
        name="shop",
    )


def test_every_field_loads_from_toml() -> None:
    tree = Tree.from_toml(FULL_TOML)
    assert tree == expected_full_tree()


def test_every_field_loads_from_json_and_dicts() -> None:
    data = tomllib.loads(FULL_TOML)
    assert Tree.from_json(json.dumps(data)) == expected_full_tree()
    assert Tree.from_json(json.dumps(data).encode()) == expected_full_tree()
    assert Tree.from_dict(data) == expected_full_tree()


def test_loaded_values_have_the_library_types() -> None:
    tree = Tree.from_toml(FULL_TOML)
    assert tree.strategy is otp.Strategy.REST_FOR_ONE
    assert tree.auto_shutdown is otp.AutoShutdown.ANY_SIGNIFICANT
    assert isinstance(tree.period, float)
    counter, db, seven, workers, jobs = tree.children
    assert counter.start == ServerStart(targets.Counter, "counter")
    assert counter.args == (10,)
    assert db.start is targets.with_options
    assert db.shutdown == 10.0
    assert isinstance(db.shutdown, float)
    assert db.restart is otp.Restart.TRANSIENT
    assert seven.id == 7
    assert seven.shutdown is otp.BRUTAL_KILL
    assert seven.type is otp.ChildType.SUPERVISOR
    assert isinstance(workers.start, NestedSupervisor)
    assert [spec.id for spec in workers.start.children] == ["fetcher", "holder"]
    assert workers.start.flags.strategy is otp.Strategy.ONE_FOR_ALL
    assert workers.start.name == "shop/workers"
    assert workers.type is otp.ChildType.SUPERVISOR
    assert isinstance(jobs.start, NestedDynamicSupervisor)
    assert jobs.start.flags.max_children == 100
    assert jobs.start.template.id == "job"


def test_omitted_keys_take_the_library_defaults() -> None:
    tree = Tree.from_toml(
        f"""
        [[children]]
        id = "a"
        start = "{T}:idle"

        [[children]]
        id = "sup"
        children = []

        [[children]]
        id = "pool"
        template = {{ id = "job", start = "{T}:idle" }}

        [[children]]
        id = "hb"
        start = "{T}:idle"
        liveness = {{}}
        """
    )
    assert tree == Tree(
        [
            otp.ChildSpec("a", targets.idle),
            otp.supervisor_spec("sup", []),
            otp.dynamic_supervisor_spec("pool", otp.ChildSpec("job", targets.idle)),
            otp.ChildSpec("hb", targets.idle, liveness=otp.Heartbeat()),
        ]
    )
    assert tree.children[0].shutdown == 5.0
    assert tree.children[1].shutdown is otp.INFINITY
    assert Tree.from_toml("") == Tree()
    assert Tree.from_dict({}) == Tree()


def test_json_null_means_not_given() -> None:
    tree = Tree.from_json(
        json.dumps({"name": None, "children": [{"id": "a", "start": f"{T}:idle", "restart": None}]})
    )
    assert tree == Tree([otp.ChildSpec("a", targets.idle)])


def test_a_server_without_a_name_is_its_child_spec() -> None:
    tree = Tree.from_dict({"children": [{"id": "c", "start": f"{T}:Counter", "args": [1]}]})
    assert tree.children == (targets.Counter.child_spec(1, id="c"),)
    assert tree.children[0].start is targets.Counter


def test_a_dynamic_supervisor_of_supervisors() -> None:
    tree = Tree.from_dict(
        {
            "children": [
                {
                    "id": "pools",
                    "template": {
                        "id": "pool",
                        "strategy": "one_for_all",
                        "children": [{"id": "w", "start": f"{T}:idle"}],
                    },
                }
            ]
        }
    )
    inner = otp.supervisor_spec("pool", [otp.ChildSpec("w", targets.idle)], strategy="one_for_all")
    assert tree.children == (otp.dynamic_supervisor_spec("pools", inner),)


# --- errors: each with the path of its key --------------------------------------------------


def test_bad_choices_name_the_key_and_the_choices() -> None:
    assert child_problems(
        {"id": "a", "start": f"{T}:idle"},
        {"id": "b", "start": f"{T}:idle"},
        {"id": "c", "start": f"{T}:idle", "restart": "always", "type": "process"},
        strategy="one_for_most",
        auto_shutdown=1,
    ) == [
        (
            "strategy: must be one of 'one_for_one', 'one_for_all', 'rest_for_one' "
            "(got 'one_for_most')"
        ),
        "auto_shutdown: must be one of 'never', 'any_significant', 'all_significant' (got 1)",
        "children[2].restart: must be one of 'permanent', 'transient', 'temporary' (got 'always')",
        "children[2].type: must be one of 'worker', 'supervisor' (got 'process')",
    ]


def test_unknown_keys_suggest_the_closest_known_one() -> None:
    assert child_problems(
        {"id": "a", "start": f"{T}:idle"},
        {"id": "b", "start": f"{T}:idle", "restrat": "transient", "colour": "red"},
        stratgy="one_for_all",
    ) == [
        "stratgy: unknown key (did you mean 'strategy'?)",
        "children[1].colour: unknown key",
        "children[1].restrat: unknown key (did you mean 'restart'?)",
    ]
    assert problems_of({"backoff": {"min": 1, "max": 2, "maxx": 3}}) == [
        "backoff.maxx: unknown key (did you mean 'max'?)"
    ]


def test_import_errors_are_reported_at_load_time() -> None:
    assert child_problems(
        {
            "id": "sup",
            "children": [
                {"id": "a", "start": f"{T}:idle"},
                {"id": "b", "start": "nope.mod:fn"},
            ],
        },
        {"id": "c", "start": f"{T}:missing"},
        {"id": "d", "start": f"{T}:Holder.nope"},
        {"id": "e", "start": "no-colon"},
        {"id": "f", "start": f"{T}:"},
        {"id": "g", "start": 42},
    ) == [
        "children[0].children[1].start: cannot import 'nope.mod:fn' (No module named 'nope')",
        f"children[1].start: cannot import '{T}:missing' (module '{T}' has no attribute 'missing')",
        (
            f"children[2].start: cannot import '{T}:Holder.nope' (type object 'Holder' has no "
            "attribute 'nope')"
        ),
        "children[3].start: must be an import path 'package.module:function' (got 'no-colon')",
        f"children[4].start: must be an import path 'package.module:function' (got '{T}:')",
        "children[5].start: must be an import path 'package.module:function' (got 42)",
    ]


def test_a_module_that_fails_to_import_is_reported(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tree_exploding_module.py").write_text("1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert child_problems({"id": "a", "start": "tree_exploding_module:fn"}) == [
        (
            "children[0].start: cannot import 'tree_exploding_module:fn' "
            "(ZeroDivisionError: division by zero)"
        )
    ]


def test_an_import_path_to_something_that_is_not_a_start() -> None:
    assert child_problems(
        {"id": "a", "start": f"{T}:sync_function"},
        {"id": "b", "start": f"{T}:async_generator"},
        {"id": "c", "start": f"{T}:NotAServer"},
        {"id": "d", "start": f"{T}:CONSTANT"},
    ) == [
        (
            f"children[0].start: '{T}:sync_function' is a sync function; a start must be "
            "defined with 'async def'"
        ),
        (
            f"children[1].start: '{T}:async_generator' is an async generator function; a start "
            "must be defined with 'async def'"
        ),
        (
            f"children[2].start: '{T}:NotAServer' is the class 'NotAServer'; a class can be a "
            "start only if it is an otp.GenServer subclass"
        ),
        f"children[3].start: '{T}:CONSTANT' is not callable (it is 3)",
    ]


def test_objects_with_an_async_call_and_partials_are_valid_starts() -> None:
    tree = Tree.from_dict(
        {
            "children": [
                {"id": "a", "start": f"{T}:callable_object"},
                {"id": "b", "start": f"{T}:partial_start"},
            ]
        }
    )
    assert tree.children[0].start is targets.callable_object
    assert tree.children[1].start is targets.partial_start


def test_values_of_the_wrong_type_or_range() -> None:
    assert child_problems(
        {
            "id": True,
            "start": f"{T}:idle",
            "args": "abc",
            "shutdown": -1,
            "significant": "yes",
            "liveness": {
                "interval": 0,
                "threshold": "high",
                "acceptable_pause": -0.5,
                "min_std_deviation": math.inf,
                "max_sample_size": 0,
            },
        },
        {"id": 1.5, "start": f"{T}:idle", "shutdown": "forever", "liveness": 3},
        {"id": "n", "start": f"{T}:Counter", "name": 5},
        name=["root"],
        intensity=1.5,
        period=0,
        backoff={"min": -1, "max": "2", "multiplier": 0.5, "jitter": -1, "reset_after": 0},
    ) == [
        "name: must be a string (got ['root'] that is a list)",
        "intensity: must be an int >= 0 (got 1.5)",
        "period: must be a finite number of seconds > 0 (got 0)",
        "backoff.min: must be a finite number of seconds > 0 (got -1)",
        "backoff.max: must be a finite number of seconds > 0 (got '2')",
        "backoff.multiplier: must be a finite number >= 1 (got 0.5)",
        "backoff.jitter: must be a finite number >= 0 (got -1)",
        "backoff.reset_after: must be a finite number of seconds > 0 (got 0)",
        "children[0].id: must be a string or an int (got True)",
        "children[0].args: must be a list (got 'abc')",
        (
            "children[0].shutdown: must be a number of seconds >= 0, 'brutal_kill' or 'infinity' "
            "(got -1)"
        ),
        "children[0].significant: must be true or false (got 'yes')",
        "children[0].liveness.interval: must be a finite number of seconds > 0 (got 0)",
        "children[0].liveness.threshold: must be a finite number > 0 (got 'high')",
        "children[0].liveness.acceptable_pause: must be a finite number of seconds >= 0 (got -0.5)",
        "children[0].liveness.min_std_deviation: must be a finite number of seconds > 0 (got inf)",
        "children[0].liveness.max_sample_size: must be an int >= 1 (got 0)",
        "children[1].id: must be a string or an int (got 1.5)",
        (
            "children[1].shutdown: must be a number of seconds >= 0, 'brutal_kill' or 'infinity' "
            "(got 'forever')"
        ),
        "children[1].liveness: must be a table (got 3)",
        "children[2].name: must be a string (got 5)",
    ]


def test_shapes_that_are_not_tables_or_lists() -> None:
    assert problems_of([1]) == ["tree: must be a table (got [1] that is a list)"]
    assert problems_of({"children": {"id": "a"}}) == [
        "children: must be a list of tables (got {'id': 'a'} that is a dict)"
    ]
    assert problems_of({"children": "abc"}) == ["children: must be a list of tables (got 'abc')"]
    assert child_problems("a", 3) == [
        "children[0]: must be a table (got 'a')",
        "children[1]: must be a table (got 3)",
    ]
    assert problems_of({"backoff": 1.0}) == ["backoff: must be a table (got 1.0)"]


def test_missing_keys() -> None:
    assert child_problems(
        {"start": f"{T}:idle"}, {"id": "b"}, {"id": "c", "backoff": {"min": 1}}
    ) == [
        "children[0].id: missing required key",
        (
            "children[1].start: missing required key (or give 'children' or a 'template' for a "
            "nested supervisor)"
        ),
        "children[2].backoff.max: missing required key",
        (
            "children[2].start: missing required key (or give 'children' or a 'template' for a "
            "nested supervisor)"
        ),
        (
            "children[2].backoff: only a nested supervisor (a child with 'children' or a "
            "'template') takes this key"
        ),
    ]


def test_keys_that_do_not_fit_the_kind_of_child() -> None:
    assert child_problems(
        {
            "id": "w",
            "start": f"{T}:idle",
            "name": "w",
            "strategy": "one_for_all",
            "intensity": 1,
            "max_children": 2,
        },
        {
            "id": "s",
            "start": f"{T}:idle",
            "args": [],
            "type": "worker",
            "liveness": {"interval": 1},
            "max_children": 2,
            "children": [],
        },
        {
            "id": "d",
            "strategy": "one_for_one",
            "template": {"id": "t", "start": f"{T}:idle"},
        },
        {"id": "both", "children": [], "template": {"id": "t", "start": f"{T}:idle"}},
    ) == [
        (
            "children[0].strategy: only a nested supervisor (a child with 'children' or a "
            "'template') takes this key"
        ),
        (
            "children[0].intensity: only a nested supervisor (a child with 'children' or a "
            "'template') takes this key"
        ),
        (
            "children[0].max_children: only a nested supervisor (a child with 'children' or a "
            "'template') takes this key"
        ),
        (
            "children[0].name: only a nested supervisor, or a child whose start is an "
            f"otp.GenServer subclass, takes a name ('{T}:idle' is not one)"
        ),
        (
            "children[1].start: not allowed for a nested supervisor (a child with 'children' or a "
            "'template')"
        ),
        (
            "children[1].args: not allowed for a nested supervisor (a child with 'children' or a "
            "'template')"
        ),
        (
            "children[1].liveness: not allowed for a nested supervisor (a child with 'children' or "
            "a 'template')"
        ),
        (
            "children[1].type: must be 'supervisor' for a nested supervisor (a child with "
            "'children' or a 'template') (got 'worker')"
        ),
        (
            "children[1].max_children: only a dynamic supervisor (a child with a 'template') "
            "takes this key"
        ),
        (
            "children[2].strategy: not allowed for a dynamic supervisor (a child with a "
            "'template'): it restarts each child on its own"
        ),
        (
            "children[3].template: not allowed with 'children': a nested supervisor is static "
            "(with 'children') or dynamic (with a 'template')"
        ),
    ]


def test_duplicate_ids_and_significance() -> None:
    advice = "set auto_shutdown to 'any_significant' or 'all_significant', or drop significant"
    assert child_problems(
        {"id": "a", "start": f"{T}:idle", "restart": "transient", "significant": True},
        {"id": "a", "start": f"{T}:idle", "restart": "bogus"},
        {
            "id": "sup",
            "children": [
                {"id": 1, "start": f"{T}:idle", "significant": True},
                {"id": 1, "start": f"{T}:idle"},
                {"id": "1", "start": f"{T}:idle"},
            ],
        },
        {
            "id": "pool",
            "template": {
                "id": "t",
                "start": f"{T}:idle",
                "restart": "temporary",
                "significant": True,
            },
        },
    ) == [
        f"children[0].significant: child 'a' is significant but auto_shutdown is 'never'; {advice}",
        "children[1].restart: must be one of 'permanent', 'transient', 'temporary' (got 'bogus')",
        "children[1].id: duplicate child id 'a' (also the id of children[0])",
        (
            "children[2].children[0].significant: a significant child must be 'transient' or "
            "'temporary' (got restart='permanent')"
        ),
        (
            f"children[2].children[0].significant: child 1 is significant but auto_shutdown is "
            f"'never'; {advice}"
        ),
        "children[2].children[1].id: duplicate child id 1 (also the id of children[0])",
        (
            f"children[3].template.significant: the template is significant but auto_shutdown is "
            f"'never'; {advice}"
        ),
    ]


def test_the_error_lists_every_problem_in_one_exception() -> None:
    with pytest.raises(TreeError) as info:
        Tree.from_dict({"intensity": -1, "children": [{"id": "a", "restart": "always"}]})
    error = info.value
    assert isinstance(error, otp.OtpError)
    assert isinstance(error, ValueError)
    assert error.source is None
    assert str(error) == (
        "3 problems:\n"
        "  intensity: must be an int >= 0 (got -1)\n"
        "  children[0].restart: must be one of 'permanent', 'transient', 'temporary' "
        "(got 'always')\n"
        "  children[0].start: missing required key (or give 'children' or a 'template' for a "
        "nested supervisor)"
    )
    with pytest.raises(TreeError) as info:
        Tree.from_dict({"intensity": -1})
    assert str(info.value) == "intensity: must be an int >= 0 (got -1)"


def test_text_that_does_not_parse() -> None:
    with pytest.raises(TreeError) as info:
        Tree.from_toml("strategy = \n")
    assert info.value.problems == ("invalid TOML (Invalid value (at line 1, column 12))",)
    with pytest.raises(TreeError) as info:
        Tree.from_json("{")
    assert info.value.problems == (
        (
            "invalid JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
            "(char 1))"
        ),
    )


def nested_supervisors(levels: int) -> dict[str, Any]:
    child: dict[str, Any] = {"id": "leaf", "start": f"{T}:plain"}
    for level in range(levels):
        child = {"id": f"s{level}", "children": [child]}
    return {"children": [child]}


@pytest.mark.parametrize(
    ("load", "text"),
    [
        (Tree.from_json, "[" * 100_000),
        (Tree.from_json, '{"a": ' * 100_000),
        (Tree.from_toml, "a = " + "[" * 100_000),
        (Tree.from_toml, "a = " + "{b = " * 100_000),
    ],
    ids=["json-lists", "json-tables", "toml-arrays", "toml-inline-tables"],
)
def test_deeply_nested_text_is_a_tree_error(load: Any, text: str) -> None:
    kind = "JSON" if load == Tree.from_json else "TOML"
    with pytest.raises(TreeError) as info:
        load(text)
    assert info.value.problems == (
        f"invalid {kind}: nested too deeply (a tree nests at most 64 levels)",
    )


def test_a_deeply_nested_dict_is_a_tree_error() -> None:
    data: dict[str, Any] = {}
    inner = data
    for _ in range(100_000):
        inner["children"] = [{}]
        inner = inner["children"][0]
    with pytest.raises(TreeError) as info:
        Tree.from_dict(data)
    assert info.value.problems == (
        "invalid tree: nested too deeply (a tree nests at most 64 levels)",
    )


def test_deeply_nested_args_are_a_tree_error_too() -> None:
    args: list[Any] = []
    inner = args
    for _ in range(1_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(TreeError, match="nested too deeply"):
        Tree.from_dict({"children": [{"id": "a", "start": f"{T}:plain", "args": args}]})


def test_thirty_nested_supervisors_are_within_the_limit() -> None:
    tree = Tree.from_dict(nested_supervisors(30))
    assert Tree.from_json(tree.to_json()) == tree
    assert Tree.from_toml(tree.to_toml()) == tree
    with pytest.raises(TreeError, match="nested too deeply"):
        Tree.from_dict(nested_supervisors(32))


@pytest.mark.parametrize("kind", ["JSON", "TOML"])
def test_huge_text_is_a_tree_error_before_parsing(kind: str) -> None:
    load = Tree.from_json if kind == "JSON" else Tree.from_toml
    text = " " * (16 * 2**20 + 1)
    with pytest.raises(TreeError) as info:
        load(text)
    assert info.value.problems == (
        f"invalid {kind}: 16,777,217 characters, more than the 16,777,216 a tree may take",
    )
    with pytest.raises(TreeError, match="16,777,217 bytes"):
        Tree.from_json(text.encode())


def test_from_dict_takes_args_only_as_to_dict_writes_them() -> None:
    saved = Tree(children=(otp.ChildSpec(id="a", start=targets.plain, args=(1, [2, 3])),))
    assert saved.to_dict()["children"][0]["args"] == [1, [2, 3]]
    assert Tree.from_dict(saved.to_dict()) == saved
    assert child_problems({"id": "a", "start": f"{T}:plain", "args": (1, 2)}) == [
        "children[0].args: must be a list (got (1, 2) that is a tuple)"
    ]
    problems = child_problems({"id": "a", "start": f"{T}:plain", "args": [1, (2, 3)]})
    assert problems == [
        (
            "children[0].args: args[1] is (2, 3) that is a tuple: args in a file hold strings, "
            "numbers, booleans, null, lists and tables with string keys; use a list for a tuple"
        )
    ]
    problems = child_problems({"id": "a", "start": f"{T}:plain", "args": [{"k": object()}]})
    assert problems[0].startswith("children[0].args: args[0]['k'] is <object object at")
    assert "that is an object: args in a file hold" in problems[0]


# --- files ------------------------------------------------------------------------------------


def test_load_tree_chooses_the_format_by_suffix(tmp_path: Any) -> None:
    expected = expected_full_tree()
    (tmp_path / "tree.toml").write_text(FULL_TOML, encoding="utf-8")
    (tmp_path / "tree.JSON").write_text(json.dumps(tomllib.loads(FULL_TOML)), encoding="utf-8")
    assert load_tree(tmp_path / "tree.toml") == expected
    assert load_tree(str(tmp_path / "tree.JSON")) == expected


def test_load_tree_errors_name_the_file(tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[children]]\nid = "a"\nstart = "nope.mod:fn"\n', encoding="utf-8")
    with pytest.raises(TreeError) as info:
        load_tree(bad)
    assert info.value.source == str(bad)
    assert str(info.value) == (
        f"{bad}: children[0].start: cannot import 'nope.mod:fn' (No module named 'nope')"
    )

    broken = tmp_path / "broken.json"
    broken.write_text('{"children": [}', encoding="utf-8")
    with pytest.raises(TreeError) as info:
        load_tree(broken)
    assert str(info.value) == (
        f"{broken}: invalid JSON (Expecting value: line 1 column 15 (char 14))"
    )

    two = tmp_path / "two.json"
    two.write_text('{"period": 0, "intensity": -1}', encoding="utf-8")
    with pytest.raises(TreeError) as info:
        load_tree(two)
    assert str(info.value).splitlines() == [
        f"2 problems in {two}:",
        "  intensity: must be an int >= 0 (got -1)",
        "  period: must be a finite number of seconds > 0 (got 0)",
    ]

    with pytest.raises(TreeError) as info:
        load_tree(tmp_path / "tree.yaml")
    assert info.value.problems == (
        "cannot tell the format from the suffix '.yaml': use .toml or .json",
    )
    with pytest.raises(FileNotFoundError):
        load_tree(tmp_path / "missing.toml")


# --- saving -----------------------------------------------------------------------------------


def test_to_dict_leaves_out_the_defaults() -> None:
    tree = Tree(
        [
            otp.ChildSpec("a", targets.idle),
            targets.Counter.child_spec(3, name="counter"),
            otp.supervisor_spec(
                "sup",
                [otp.ChildSpec("b", targets.plain, ["x"], shutdown=otp.INFINITY)],
                intensity=4,
            ),
            otp.dynamic_supervisor_spec(
                "pool", otp.ChildSpec("job", targets.idle, restart="temporary"), max_children=3
            ),
            otp.ChildSpec(
                "hb",
                targets.idle,
                liveness=otp.Heartbeat(0.5, threshold=9.0),
                type="supervisor",
                shutdown=1.0,
            ),
        ],
        strategy="one_for_all",
        backoff=otp.Backoff(0.5, 4.0, jitter=0.5),
    )
    assert tree.to_dict() == {
        "strategy": "one_for_all",
        "backoff": {"min": 0.5, "max": 4.0, "jitter": 0.5},
        "children": [
            {"id": "a", "start": f"{T}:idle"},
            {"id": "counter", "start": f"{T}:Counter", "name": "counter", "args": [3]},
            {
                "id": "sup",
                "type": "supervisor",
                "intensity": 4,
                "children": [
                    {"id": "b", "start": f"{T}:plain", "args": ["x"], "shutdown": "infinity"}
                ],
            },
            {
                "id": "pool",
                "type": "supervisor",
                "max_children": 3,
                "template": {"id": "job", "start": f"{T}:idle", "restart": "temporary"},
            },
            {
                "id": "hb",
                "start": f"{T}:idle",
                "shutdown": 1.0,
                "type": "supervisor",
                "liveness": {"interval": 0.5, "threshold": 9.0},
            },
        ],
    }
    assert json.loads(tree.to_json()) == tree.to_dict()
    assert tomllib.loads(tree.to_toml()) == tree.to_dict()
    assert Tree.from_toml(tree.to_toml()) == tree
    assert Tree().to_dict() == {}


def test_to_toml_writes_tables_in_order() -> None:
    tree = Tree(
        [
            otp.supervisor_spec(
                "sup",
                [
                    otp.ChildSpec(
                        "w",
                        targets.idle,
                        [1.5, 'a "quoted"\nline', {"key": [True], "odd key": {}}],
                        liveness=otp.Heartbeat(2.0),
                    )
                ],
                backoff=otp.Backoff(1.0, 2.0),
            ),
            otp.dynamic_supervisor_spec("pool", otp.ChildSpec("job", targets.idle)),
            otp.supervisor_spec("empty", []),
        ],
        name="root",
    )
    assert tree.to_toml() == (
        'name = "root"\n'
        "\n"
        "[[children]]\n"
        'id = "sup"\n'
        'type = "supervisor"\n'
        "\n"
        "[children.backoff]\n"
        "min = 1.0\n"
        "max = 2.0\n"
        "\n"
        "[[children.children]]\n"
        'id = "w"\n'
        f'start = "{T}:idle"\n'
        'args = [1.5, "a \\"quoted\\"\\nline", { key = [true], "odd key" = {} }]\n'
        "\n"
        "[children.children.liveness]\n"
        "interval = 2.0\n"
        "\n"
        "[[children]]\n"
        'id = "pool"\n'
        'type = "supervisor"\n'
        "\n"
        "[children.template]\n"
        'id = "job"\n'
        f'start = "{T}:idle"\n'
        "\n"
        "[[children]]\n"
        'id = "empty"\n'
        'type = "supervisor"\n'
        "children = []\n"
    )
    assert Tree.from_toml(tree.to_toml()) == tree


def test_a_classmethod_start_is_saved_by_its_path() -> None:
    tree = Tree([otp.ChildSpec("h", targets.Holder.start)])
    assert tree.to_dict() == {"children": [{"id": "h", "start": f"{T}:Holder.start"}]}
    assert Tree.from_dict(tree.to_dict()) == tree


def test_a_bare_server_class_start_loads_back_equal() -> None:
    # A ChildSpec whose start is the class itself is what Counter.child_spec() gives too.
    tree = Tree([otp.ChildSpec("c", targets.Counter)])
    assert tree.to_dict() == {"children": [{"id": "c", "start": f"{T}:Counter"}]}
    assert Tree.from_dict(tree.to_dict()) == tree
    assert tree == Tree([targets.Counter.child_spec(id="c")])


def test_what_cannot_be_saved_is_reported_with_the_child() -> None:
    async def closure() -> None:
        pass

    async def hook_target(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        pass

    tree = Tree(
        [
            otp.ChildSpec("closure", closure),
            otp.ChildSpec("partial", functools.partial(targets.with_options, "url")),
            otp.ChildSpec("method", targets.Holder().method),
            otp.ChildSpec("object", targets.callable_object),
            otp.ChildSpec(("tuple", "id"), targets.idle),
            otp.ChildSpec("args", targets.idle, [(1, 2), {1: "x"}, [object]]),
            targets.Counter.child_spec(id="named", name=("counter", 1)),
            otp.supervisor_spec(
                "hooked",
                [otp.ChildSpec("inner", hook_target)],
                hooks=[print],
            ),
        ]
    )
    with pytest.raises(TreeError) as info:
        tree.to_dict()
    where = "has no import path 'module:name' that leads back to it; use a module-level async"
    tail = "function or an otp.GenServer subclass"
    local = "test_what_cannot_be_saved_is_reported_with_the_child.<locals>"
    assert list(info.value.problems) == [
        (
            f"children[0].start: cannot save child 'closure': its start '{local}.closure' {where} "
            f"{tail}"
        ),
        (
            "children[1].start: cannot save child 'partial': its start is a functools.partial, "
            "which has no import path; start from the function itself and put the arguments in args"
        ),
        f"children[2].start: cannot save child 'method': its start 'Holder.method' {where} {tail}",
        (
            "children[3].start: cannot save child 'object': its start (an object of type "
            f"'AsyncCallable') {where} {tail}"
        ),
        (
            "children[4].id: cannot save child id ('tuple', 'id') that is a tuple: an id in a file "
            "is a string or an int"
        ),
        (
            "children[5].args[0]: cannot save (1, 2) that is a tuple: args in a file hold "
            "strings, numbers, booleans, null, lists and tables with string keys; use a list for "
            "a tuple"
        ),
        "children[5].args[1]: cannot save a table key that is not a string (1)",
        (
            "children[5].args[2][0]: cannot save <class 'object'> that is a type: args in a file "
            "hold strings, numbers, booleans, null, lists and tables with string keys"
        ),
        (
            "children[6].name: cannot save the name ('counter', 1) that is a tuple: a name in a "
            "file is a string"
        ),
        (
            "children[7]: cannot save child 'hooked': its supervisor has hooks, which are not "
            "data; pass hooks and random to Tree.run() or Tree.open() instead"
        ),
        (
            f"children[7].children[0].start: cannot save child 'inner': its start "
            f"'{local}.hook_target' {where} {tail}"
        ),
    ]
    with pytest.raises(TreeError):
        tree.to_json()
    with pytest.raises(TreeError):
        tree.to_toml()


def test_null_in_args_is_json_only() -> None:
    tree = Tree([otp.ChildSpec("a", targets.idle, [None, [None]])])
    assert Tree.from_json(tree.to_json()) == tree
    with pytest.raises(TreeError) as info:
        tree.to_toml()
    assert list(info.value.problems) == [
        "children[0].args[0]: cannot write None as TOML (TOML has no null); use JSON",
        "children[0].args[1][0]: cannot write None as TOML (TOML has no null); use JSON",
    ]


def test_a_random_source_on_a_nested_supervisor_cannot_be_saved() -> None:
    tree = Tree([otp.supervisor_spec("s", [], random=lambda: 0.5)])
    with pytest.raises(TreeError) as info:
        tree.to_dict()
    assert info.value.problems == (
        (
            "children[0]: cannot save child 's': its supervisor has a random source, which is "
            "not data; pass hooks and random to Tree.run() or Tree.open() instead"
        ),
    )


# --- the Tree object --------------------------------------------------------------------------


def test_a_tree_validates_its_flags_and_children() -> None:
    with pytest.raises(otp.ChildSpecError, match="strategy must be one of"):
        Tree(strategy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(otp.ChildSpecError, match="duplicate child id 'a'"):
        Tree([otp.ChildSpec("a", targets.idle), otp.ChildSpec("a", targets.idle)])
    with pytest.raises(otp.ChildSpecError, match="name must be a string or None"):
        Tree(name=3)  # type: ignore[arg-type]
    tree = Tree([otp.ChildSpec("a", targets.idle)], period=2, strategy="one_for_all")
    assert tree.period == 2.0
    assert tree.strategy is otp.Strategy.ONE_FOR_ALL
    assert tree.children == (otp.ChildSpec("a", targets.idle),)
    with pytest.raises(AttributeError):
        tree.name = "x"  # type: ignore[misc]


# --- round trips --------------------------------------------------------------------------------

START_FUNCTIONS = [targets.idle, targets.plain, targets.with_options, targets.Holder.start]
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
ids = st.one_of(text, st.integers(-1000, 1000))
json_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False),
        text,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
seconds = st.floats(min_value=1e-3, max_value=1e6)
heartbeats = st.builds(
    otp.Heartbeat,
    interval=seconds,
    threshold=st.floats(0.5, 20.0),
    acceptable_pause=st.none() | st.floats(0.0, 100.0),
    min_std_deviation=st.none() | seconds,
    max_sample_size=st.integers(1, 5000),
)


@st.composite
def backoffs(draw: st.DrawFn) -> otp.Backoff:
    low = draw(seconds)
    return otp.Backoff(
        low,
        draw(st.floats(min_value=low, max_value=2e6)),
        multiplier=draw(st.floats(1.0, 10.0)),
        jitter=draw(st.floats(0.0, 1.0)),
        reset_after=draw(st.none() | seconds),
    )


def _common(draw: st.DrawFn, parent_auto: otp.AutoShutdown) -> dict[str, Any]:
    restart = draw(st.sampled_from(otp.Restart))
    options: dict[str, Any] = {"restart": restart}
    if restart is not otp.Restart.PERMANENT and parent_auto is not otp.AutoShutdown.NEVER:
        options["significant"] = draw(st.booleans())
    shutdown = draw(
        st.none() | st.floats(0.0, 1e6) | st.sampled_from([otp.BRUTAL_KILL, otp.INFINITY])
    )
    if shutdown is not None:
        options["shutdown"] = shutdown
    return options


def _flags(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "intensity": draw(st.integers(0, 100)),
        "period": draw(seconds),
        "backoff": draw(st.none() | backoffs()),
        "name": draw(st.none() | text),
    }


@st.composite
def child_specs(
    draw: st.DrawFn, child_id: object, depth: int, parent_auto: otp.AutoShutdown
) -> otp.ChildSpec:
    kinds = ["worker", "server"] + (["static", "dynamic"] if depth > 0 else [])
    kind = draw(st.sampled_from(kinds))
    options = _common(draw, parent_auto)
    if kind == "worker":
        return otp.ChildSpec(
            child_id,
            draw(st.sampled_from(START_FUNCTIONS)),
            draw(st.lists(json_values, max_size=3)),
            type=draw(st.sampled_from(otp.ChildType)),
            liveness=draw(st.none() | heartbeats),
            **options,
        )
    if kind == "server":
        return targets.Counter.child_spec(
            *draw(st.lists(json_values, max_size=1)),
            id=child_id,
            name=draw(st.none() | text),
            liveness=draw(st.none() | heartbeats),
            **options,
        )
    auto = draw(st.sampled_from(otp.AutoShutdown))
    if kind == "static":
        child_ids = draw(st.lists(ids, max_size=3, unique=True))
        children = [draw(child_specs(cid, depth - 1, auto)) for cid in child_ids]
        return otp.supervisor_spec(
            child_id,
            children,
            strategy=draw(st.sampled_from(otp.Strategy)),
            auto_shutdown=auto,
            **_flags(draw),
            **options,
        )
    template = draw(child_specs(draw(ids), depth - 1, auto))
    return otp.dynamic_supervisor_spec(
        child_id,
        template,
        auto_shutdown=auto,
        max_children=draw(st.none() | st.integers(1, 1000)),
        **_flags(draw),
        **options,
    )


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    auto = draw(st.sampled_from(otp.AutoShutdown))
    child_ids = draw(st.lists(ids, max_size=4, unique=True))
    return Tree(
        [draw(child_specs(cid, 2, auto)) for cid in child_ids],
        strategy=draw(st.sampled_from(otp.Strategy)),
        auto_shutdown=auto,
        **_flags(draw),
    )


@settings(max_examples=150, deadline=None)
@given(trees())
def test_round_trip_through_dicts_json_and_toml(tree: Tree) -> None:
    data = tree.to_dict()
    assert Tree.from_dict(data) == tree
    assert json.loads(tree.to_json()) == data
    assert Tree.from_json(tree.to_json()) == tree
    toml_text = tree.to_toml()
    assert tomllib.loads(toml_text) == data
    assert Tree.from_toml(toml_text) == tree


# --- running ------------------------------------------------------------------------------------

RUNNABLE = f"""
name = "app"
strategy = "one_for_one"

[[children]]
id = "counter"
start = "{T}:Counter"
name = "counter"
args = [10]

[[children]]
id = "workers"
type = "supervisor"
name = "app/workers"

[[children.children]]
id = "w1"
start = "{T}:crashable"
args = ["w1"]

[[children.children]]
id = "w2"
start = "{T}:crashable"
args = ["w2"]

[[children]]
id = "jobs"
max_children = 2

[children.template]
id = "job"
start = "{T}:idle"
restart = "temporary"
"""


async def test_a_loaded_tree_runs_and_restarts_a_crashed_worker() -> None:
    targets.reset()
    tree = Tree.from_toml(RUNNABLE)
    events: list[otp.SupervisorEvent] = []
    async with tree.open(hooks=[events.append]) as sup:
        assert sup.name == "app"
        assert await otp.named("counter").call("increment") == 11
        assert targets.STARTS == {"w1": 1, "w2": 1}

        targets.crash("w1")
        await trio.testing.wait_all_tasks_blocked()
        assert targets.STARTS == {"w1": 2, "w2": 1}

        jobs = sup.get_child("jobs")
        assert jobs is not None
        assert isinstance(jobs.value, otp.DynamicSupervisor)
        job = await jobs.value.start_child("extra")
        assert job is not None
        assert job.value == ("extra",)
    exits = [
        (event.supervisor, event.child_id, event.restarting)
        for event in events
        if isinstance(event, otp.ChildExited)
    ]
    assert exits == [("app/workers", "w1", True)]
    restarted = [
        event.child_id for event in events if isinstance(event, otp.ChildStarted) and event.restart
    ]
    assert restarted == ["w1"]


async def test_run_is_a_nursery_start_function() -> None:
    targets.reset()
    tree = Tree.from_toml(RUNNABLE)
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(functools.partial(tree.run, random=lambda: 0.0))
        assert isinstance(sup, otp.Supervisor)
        assert [info.id for info in sup.which_children()] == ["jobs", "workers", "counter"]
        await sup.stop()


def test_a_shutdown_beyond_any_float_reads_as_infinity_as_in_a_child_spec() -> None:
    tree = Tree.from_dict({"children": [{"id": "a", "start": f"{T}:plain", "shutdown": 10**400}]})
    assert tree.children[0].shutdown is otp.INFINITY
    assert otp.ChildSpec("a", targets.plain, shutdown=10**400).shutdown is otp.INFINITY
