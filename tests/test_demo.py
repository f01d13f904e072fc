"""``python -m otp.demo``: the tree breaks as planned, and the log says what the supervisors did.

The demo runs in a subprocess, as a user runs it (and so that importing ``otp.demo`` does not
add a ``demo`` attribute to the ``otp`` package under the other tests).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


def _without_times(output: str) -> list[str]:
    return [re.sub(r"^ *\d+\.\d\ds  ", "", line) for line in output.splitlines()]


def _run_demo(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "otp.demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stderr == ""  # the hooks print everything; no crash tracebacks on stderr
    return result.stdout


@pytest.fixture(scope="module")
def virtual_output() -> str:
    return _run_demo("--virtual-time")


@pytest.fixture(scope="module")
def virtual_run(virtual_output: str) -> list[str]:
    return _without_times(virtual_output)


def test_each_fault_gets_the_planned_response(virtual_run: list[str]) -> None:
    # Each fragment must appear in a later line than the one before it.
    story = [
        "root/pool    child 'job' exited: normal; not restarting",
        "-- crash the fetcher",
        "root/workers child 'fetcher' exited: abnormal (RuntimeError: fetcher: injected fault)",
        "root/workers child 'fetcher' restarted",
        "-- crash the parser 3 times in a row",
        "root/workers reached max restart intensity (3 in 1 s) after child 'parser' exited",
        "root/workers stopped (gave_up)",
        "root         child 'workers' exited: shutdown (RestartIntensityExceeded:",
        "root         child 'pool' terminated: shutdown",  # rest_for_one: the pool goes too
        "root         child 'workers' restarted",
        "root         child 'pool' restarted",
        "-- crash the config worker",
        "root         child 'config' exited: abnormal (RuntimeError: config: injected fault)",
        "root         child 'workers' terminated: shutdown",
        "root         child 'config' restarted",
        "root         child 'workers' restarted",
        "root         stopped (normal)",
    ]
    position = -1
    for fragment in story:
        later = [i for i, line in enumerate(virtual_run) if fragment in line and i > position]
        assert later, f"not found after line {position}: {fragment!r}"
        position = later[0]
    assert virtual_run[-1] == (
        "summary: 5 crashes, 8 restarts, 1 supervisor gave up, 1 normal exit; "
        "tree stopped, no task left running"
    )


def test_virtual_time_runs_are_identical(virtual_output: str) -> None:
    assert _run_demo("--virtual-time") == virtual_output
