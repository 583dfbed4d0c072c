"""Host metadata sent with every batch: hostname, machine id, kernel, cloud and container context.

The EC2 instance identity comes from IMDSv2 (token PUT, then the identity document) with a short
timeout, so an agent off EC2 pays well under a second once at start, never a hang.
"""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any

import httpx
import orjson

from cloudwarden.host.procfs import container_id_from_cgroup

IMDS = "http://169.254.169.254"


def machine_id() -> str:
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            v = Path(p).read_text().strip()
        except OSError:
            continue
        if v:
            return v
    return "host-" + socket.gethostname()


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "noboot"


def imds_identity(timeout: float = 0.3, base: str = IMDS) -> dict[str, str]:
    """instance id, account and region from IMDSv2; empty off EC2 or when IMDS is unreachable."""
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout, connect=timeout)) as c:
            tok = c.put(f"{base}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
            if tok.status_code != 200:
                return {}
            doc = c.get(f"{base}/latest/dynamic/instance-identity/document",
                        headers={"X-aws-ec2-metadata-token": tok.text})
            if doc.status_code != 200:
                return {}
            d = orjson.loads(doc.content)
    except (httpx.HTTPError, orjson.JSONDecodeError, OSError):
        return {}
    if not isinstance(d, dict):
        return {}
    return {"instance_id": str(d.get("instanceId", "")), "account": str(d.get("accountId", "")),
            "region": str(d.get("region", "")), "instance_type": str(d.get("instanceType", ""))}


def container_context() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        cid = container_id_from_cgroup(Path("/proc/self/cgroup").read_text())
    except OSError:
        cid = ""
    if cid or Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        out["container_id"] = cid
        out["in_container"] = True
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        k8s: dict[str, Any] = {"pod": socket.gethostname()}
        ns = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        if ns.exists():
            k8s["namespace"] = ns.read_text().strip()
        labels = Path(os.environ.get("CLOUDWARDEN_K8S_LABELS_FILE", "/etc/podinfo/labels"))
        if labels.exists():  # Downward API volume: key="value" per line
            k8s["labels"] = {
                k.strip(): v.strip().strip('"')
                for k, _, v in (ln.partition("=") for ln in labels.read_text().splitlines()) if k.strip()
            }
        out["kubernetes"] = k8s
    return out


def collect(imds_timeout: float = 0.3) -> dict[str, Any]:
    u = platform.uname()
    meta: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "host_id": machine_id(),
        "boot_id": boot_id(),
        "kernel": u.release,
        "os": u.system,
        "arch": u.machine,
    }
    cloud = imds_identity(imds_timeout) if imds_timeout > 0 else {}
    if cloud:
        meta["cloud"] = {"provider": "aws", **cloud}
    meta.update(container_context())
    return meta
