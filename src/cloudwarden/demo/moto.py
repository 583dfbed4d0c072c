"""Start and stop a real moto_server on 127.0.0.1 (a free port) for the demo and tests.

The process is ours: `stop()` terminates exactly it (then kills it if it ignores SIGTERM). Used as a
context manager, it never outlives the demo, even on Ctrl-C.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from cloudwarden.errors import CloudwardenError

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _moto_command() -> list[str]:
    exe = Path(sys.executable).with_name("moto_server")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]


class MotoServer:
    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> MotoServer:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "wb")  # closed in stop()
        out = self._log if self._log is not None else subprocess.DEVNULL
        # Real accounts have AWS managed policies (AdministratorAccess, AWSSupportAccess...); the checks
        # for CIS 2.14/2.15/2.20 look for them by ARN.
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        try:
            self.proc = subprocess.Popen(
                [*_moto_command(), "-H", "127.0.0.1", "-p", str(self.port)], stdout=out, stderr=out, env=env
            )
        except OSError as exc:
            self.stop()
            raise CloudwardenError(f"cannot start moto_server: {exc}", source="moto_server") from exc
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise CloudwardenError(f"moto_server exited with code {code} (see {self.log_path})", source="moto_server")
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).read()  # noqa: S310 - loopback only
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise CloudwardenError(f"moto_server did not answer on {self.url} within {START_TIMEOUT:.0f}s", source="moto_server")

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 - loopback only
        urllib.request.urlopen(req, timeout=10).read()  # noqa: S310 - loopback only

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
