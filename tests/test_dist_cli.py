"""``python -m otp.dist node`` and ``call``: the README's cluster, and bad command lines."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from otp.dist._cli import main

from .nats_broker import nats_server
from .node_processes import ROOT, START_WAIT, start_node, stop_node


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with nats_server() as (address, _):
        yield address


def call(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "otp.dist", "call", *args, "--server", url]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=START_WAIT, check=False
    )


def test_the_readme_cluster_runs_from_the_shell(url: str) -> None:
    b = start_node(url, "b", "--role", "cache")
    try:
        a = start_node(url, "a", "--tree", str(ROOT / "examples" / "cluster" / "owner.toml"))
        try:
            answered = call(url, "cache", '["put", "k", 7]', "--global")
            assert (answered.returncode, answered.stdout.strip()) == (0, '"ok"')
            assert call(url, "cache", '"whoami"', "--global").stdout.strip() == '"b"'
            crashed = call(url, "cache", '"crash"', "--global")
            assert crashed.returncode == 1
            assert "RemoteError: remote server 'cache' failed" in crashed.stderr
            missing = call(url, "nobody", '"x"')
            assert missing.returncode == 1
            assert "exports a server 'nobody'" in missing.stderr
            a.terminate()  # SIGTERM: the tree stops, the node leaves, exit code 0
            assert a.wait(timeout=START_WAIT) == 0
        finally:
            stop_node(a)
    finally:
        stop_node(b)


def test_a_bad_tree_file_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "bad.toml"
    tree.write_text(
        '[[children]]\nid = "cache"\nstart = "otp.dist:remote_child"\n'
        'args = [{ start = "examples.cluster:Cache" }]\n'
    )
    assert main(["node", "--name", "a", "--server", "nats://127.0.0.1:1", "--tree", str(tree)]) == 2
    assert "needs a placement: a node, a role or both" in capsys.readouterr().err


def test_a_request_that_is_not_json_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", "cache", "{oops", "--server", "nats://127.0.0.1:1"]) == 2
    assert "REQUEST is not JSON" in capsys.readouterr().err
