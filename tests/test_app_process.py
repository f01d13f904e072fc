"""``python -m otp run`` as a real process: real signals, exit codes, shutdown order.

Every read and every wait is bounded; a process that outlives its test is killed.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator

import pytest

from .processes import Process

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def launch() -> Iterator[type[Process]]:
    started: list[Process] = []

    def make(*args: str) -> Process:
        process = Process([sys.executable, "-m", "otp", "run", *args])
        started.append(process)
        return process

    yield make  # type: ignore[misc]
    for process in started:
        process.close()


def children(lines: list[str], word: str) -> list[str]:
    return [line.split()[1] for line in lines if line.startswith("child ") and line.endswith(word)]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_tree_in_order(launch, signum, code) -> None:
    process = launch("tests.app_targets:tree", "--name", "shop")
    process.wait_for("app-started")
    process.proc.send_signal(signum)
    returncode, lines, stderr = process.finish()
    assert returncode == code, stderr
    assert children(lines, "started") == ["db", "w1", "w2"]
    assert children(lines, "stopped") == ["w2", "w1", "db"]  # reverse order, none left
    assert f"stopped ({signal.Signals(signum).name}): exit code {code}" in lines[-1]


def test_a_second_signal_forces_the_rest_down(launch) -> None:
    process = launch("tests.app_targets:slow_tree")
    process.wait_for("app-started")
    process.proc.send_signal(signal.SIGTERM)
    process.wait_for("child cache cleaning up")
    process.proc.send_signal(signal.SIGTERM)
    returncode, lines, _ = process.finish()
    assert returncode == 70
    assert any("forcing the shutdown (second stop request (SIGTERM))" in line for line in lines), (
        "\n".join(lines)
    )
    assert "child cache cut short" in lines
    assert "child db stopped" in lines


def test_the_deadline_forces_the_rest_down(launch) -> None:
    process = launch("tests.app_targets:slow_tree", "--shutdown-timeout", "0.5")
    process.wait_for("app-started")
    process.proc.send_signal(signal.SIGINT)
    returncode, lines, _ = process.finish()
    assert returncode == 70
    assert any("the shutdown deadline of 0.5 s passed" in line for line in lines)


def test_a_start_failure_names_the_child_and_stops_what_started(launch) -> None:
    process = launch("tests.app_targets:failing_tree", "--name", "shop")
    returncode, lines, stderr = process.finish()
    assert returncode == 3
    last = stderr.strip().splitlines()[-1]
    assert "child 'shop/web/w2' failed: RuntimeError: w2 cannot connect" in last
    assert "ExceptionGroup" not in stderr
    assert "Traceback" in stderr  # the traceback is in the log
    assert children(lines, "stopped") == ["w1", "db"]


def test_a_tree_file_and_a_factory_run(launch, tmp_path) -> None:
    tree = tmp_path / "shop.toml"
    tree.write_text(
        'name = "filed"\n\n[[children]]\nid = "db"\nstart = "tests.app_targets:worker"\n'
        'args = ["db"]\n',
        encoding="utf-8",
    )
    for target, name in ((str(tree), "filed"), ("tests.app_targets:make_tree", "shop")):
        process = launch(target)
        process.wait_for(f"app {name!r}: started")
        process.proc.send_signal(signal.SIGTERM)
        returncode, lines, _ = process.finish()
        assert returncode == 143
        assert "child db stopped" in lines


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:tree", "cannot import 'no_such_module_xyz'"),
        ("tests.app_targets:nothing", "has no attribute 'nothing'"),
        ("tests.app_targets", "neither 'module:attribute' nor a .toml/.json tree file"),
        ("missing.toml", "missing.toml"),
        ("tests.app_targets:not_a_tree", "the root must be a list of otp.ChildSpec"),
        ("tests.app_targets:say", "calling 'tests.app_targets:say' failed: TypeError"),
    ],
)
def test_a_bad_target_exits_2_with_a_message(launch, target, message) -> None:
    returncode, _, stderr = launch(target).finish()
    assert returncode == 2
    assert message in stderr
