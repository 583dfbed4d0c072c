"""A throwaway container for running attack techniques: new mount, pid and network namespaces, an overlayfs
over / whose upper layer is a tmpfs that vanishes with the namespace, loopback-only networking. Nothing a
technique writes reaches the host's filesystem; its processes die with the namespace's init."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest


def require_container_support() -> None:
    for tool in ("unshare", "chroot", "mount"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is needed for the throwaway container")


def run_in_container(script: str, tmp: Path, *, auid: int | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a shell script as root inside the container; its processes carry login uid `auid` when given."""
    require_container_support()
    root = tmp / "ct"
    root.mkdir(parents=True, exist_ok=True)
    (tmp / "script.sh").write_text(script)
    r = shlex.quote(str(root))
    inner = (
        "set -e; mount --make-rprivate /; "
        f"mount -t tmpfs -o mode=755 cwct {r}; mkdir {r}/u {r}/w {r}/m; "
        f"mount -t overlay overlay -o lowerdir=/,upperdir={r}/u,workdir={r}/w {r}/m; "
        f"mount -t proc proc {r}/m/proc; mount -t tmpfs tmpfs {r}/m/tmp; mount -t tmpfs tmpfs {r}/m/run; "
        f"cp {shlex.quote(str(tmp / 'script.sh'))} {r}/m/tmp/script.sh; "
        "ip link set lo up 2>/dev/null || true; "
        f"cd /; exec chroot {r}/m /bin/sh /tmp/script.sh"
    )
    prefix = f"echo {auid} > /proc/self/loginuid && " if auid is not None else ""
    cmd = ["sh", "-c", prefix + "exec unshare --mount --pid --net --fork --kill-child sh -c " + shlex.quote(inner)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        try:
            root.rmdir()  # only the empty mount point is left on the host
        except OSError:
            pass
