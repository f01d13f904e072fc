"""Node processes for tests: ``python -m otp.dist node`` started and stopped, waits bounded."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_WAIT = 20.0  # a cold Python start on a busy 2-core machine


def start_node(url: str, name: str, *args: str, heartbeat: float = 1.0) -> subprocess.Popen[str]:
    """Run a node process and wait (bounded) until it prints ``ready``."""
    command = [sys.executable, "-m", "otp.dist", "node", "--name", name, "--server", url]
    command += ["--heartbeat", str(heartbeat), *args]
    log = None if os.environ.get("OTP_TEST_NODE_LOG") else subprocess.DEVNULL
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        while not read_line(process).startswith("ready"):
            pass
    except RuntimeError:
        stop_node(process)
        msg = f"node {name!r} did not start within {START_WAIT} s"
        raise RuntimeError(msg) from None
    return process


def read_line(process: subprocess.Popen[str], timeout: float = START_WAIT) -> str:
    """The process's next line of output, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                msg = f"no output from {process.args!r} within {timeout} s"
                raise RuntimeError(msg)
            if selector.select(timeout=min(left, 0.5)):
                line = process.stdout.readline()
                if not line and process.poll() is not None:
                    msg = f"{process.args!r} exited with {process.returncode} before that line"
                    raise RuntimeError(msg)
                return line


def stop_node(process: subprocess.Popen[str]) -> None:
    """Stop a node process (it may be paused or dead already), bounded."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=START_WAIT)
    if process.stdout is not None:
        process.stdout.close()
