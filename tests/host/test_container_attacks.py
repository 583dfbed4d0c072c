"""Attack techniques run only inside a throwaway container (unshare mount+pid+net, overlayfs over / on a
tmpfs, loopback only), observed from the host by the audit source, detected by the built-in host rules.

Our own technique scripts (tests/host/techniques/) always run; the Atomic Red Team catalogue in
../shared/data/hids runs too when present."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudwarden.detect.engine import builtin_rules_path, load_rules
from cloudwarden.host.auditparse import HostIdentity
from cloudwarden.host.sources.audit import AuditSource
from cloudwarden.models.host_event import HostEvent
from cloudwarden.server.ingest import HostIngest
from cloudwarden.store.state import open_store
from tests.conftest import shared_data
from tests.host.conftest import collecting
from tests.host.container import run_in_container

pytestmark = [pytest.mark.live, pytest.mark.slow]
TECHNIQUES = Path(__file__).parent / "techniques"
EXPECTED = {
    "t1059_004_reverse_shell": {"Reverse shell through bash /dev/tcp", "Shell process opened an outbound network connection"},
    "t1053_003_cron": {"Cron persistence"},
    "t1098_004_authorized_keys": {"SSH authorized_keys modified"},
    "t1548_001_setuid": {"setuid or setgid bit set with chmod", "setuid-root program run from a temporary directory"},
    "t1070_history_and_logs": {"Shell history cleared or disabled", "System logs deleted or truncated"},
    "t1496_miner": {"Crypto-miner launched"},
    "t1611_escape": {"Container escape attempt"},
    "t1105_pipe_to_shell": {"Download piped into a shell"},
}


def _detect(events: list[HostEvent]) -> set[str]:
    svc = HostIngest(open_store("sqlite://"), None, alert_sink=lambda a: None)
    return {a.title for a in svc.detect(events)}


def _run_all(scripts: dict[str, str], auid: int, tmp: Path, timeout: float = 60) -> dict[str, tuple[set[str], list[HostEvent], Any]]:
    src = AuditSource(HostIdentity("ct-host", "ct-host"), auid=auid, track_auid_writes=True, mode="netlink")
    windows: dict[str, tuple[float, float, Any]] = {}
    with collecting(src) as c:
        for name, script in scripts.items():
            t0 = time.time()
            try:
                res = run_in_container(script, tmp / name, auid=auid, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                # A catalogue test may run long (ART T1005 walks $HOME running bash per file); what it did until
                # the container was killed is still observed and detected.
                res = subprocess.CompletedProcess(exc.cmd, -9, "", f"timed out after {timeout}s")
            time.sleep(0.3)
            windows[name] = (t0, time.time(), res)
        time.sleep(0.5)
    events = c.snapshot()
    out = {}
    for name, (t0, t1, res) in windows.items():
        mine = [e for e in events if t0 - 0.05 <= e.time <= t1]
        out[name] = (_detect(mine), mine, res)
    return out


def test_own_techniques_in_container_raise_their_alerts(audit_free: None, own_auid: int, tmp_path: Path) -> None:
    scripts = {p.stem: p.read_text() for p in sorted(TECHNIQUES.glob("*.sh"))}
    assert set(scripts) == set(EXPECTED)
    results = _run_all(scripts, own_auid, tmp_path)
    missing = {}
    for name, (titles, events, res) in results.items():
        assert res.returncode == 0, f"{name}: {res.stderr[-500:]}"
        assert events, f"{name}: no events seen from the container"
        if not EXPECTED[name] <= titles:
            missing[name] = (EXPECTED[name] - titles, sorted(titles))
    assert not missing, missing
    # Nothing escaped the container: the host has no such files.
    assert not Path("/etc/cron.d/cw-test-job").exists() and Path("/var/log/dpkg.log").exists()
    assert not Path("/tmp/rootsh").exists() and not Path("/tmp/xmrig").exists()


def _atomic_scripts(root: Path) -> dict[str, str]:
    """Linux sh/bash atomic tests with default arguments substituted; prerequisites are not installed."""
    out: dict[str, str] = {}
    for yml in sorted(root.rglob("T*.yaml")):
        try:
            doc = yaml.safe_load(yml.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        if not isinstance(doc, dict):
            continue
        for i, test in enumerate(doc.get("atomic_tests") or []):
            if "linux" not in (test.get("supported_platforms") or []):
                continue
            ex = test.get("executor") or {}
            if ex.get("name") not in ("sh", "bash"):
                continue
            cmd = str(ex.get("command") or "")
            for arg, spec in (test.get("input_arguments") or {}).items():
                cmd = cmd.replace("#{" + arg + "}", str((spec or {}).get("default", "")))
            if re.search(r"#\{\w+\}", cmd):
                continue
            out[f"{doc.get('attack_technique', yml.stem)}-{i}"] = cmd
    return out


def test_atomic_red_team_catalogue_in_container(audit_free: None, own_auid: int, tmp_path: Path) -> None:
    root = shared_data("hids")
    candidates = [p for p in root.iterdir() if p.is_dir() and "atomic" in p.name.lower()] or [root]
    # Bounded so the suite stays fast: 60 runnable tests, those of techniques our built-in rules claim (their
    # ATT&CK tags, or a parent technique) first, then catalogue order. In plain catalogue order the first 60 are
    # mostly discovery and obfuscation tests (T1001-T1048) no built-in claims, which says nothing about coverage.
    claimed = {t.upper() for r in load_rules([builtin_rules_path("linux")]).rules for t in r.attack_ids}
    catalogue = list(_atomic_scripts(candidates[0]).items())
    catalogue.sort(key=lambda kv: not ({kv[0].rsplit("-", 1)[0], kv[0].split(".")[0].split("-")[0]} & claimed))
    scripts = dict(catalogue[:60])
    assert scripts, f"no Linux sh/bash atomic tests under {candidates[0]}"
    results = _run_all(scripts, own_auid, tmp_path, timeout=20)
    alerted = {name.rsplit("-", 1)[0] for name, (titles, _e, _r) in results.items() if titles}
    quiet = sorted(name for name, (titles, _e, _r) in results.items() if not titles)
    print(f"atomic tests without any alert: {quiet}")
    timed_out = sorted(name for name, (_t, _e, res) in results.items() if res.returncode == -9)
    print(f"atomic tests timed out (killed, still scored): {timed_out}")
    print(f"atomic tests run: {len(scripts)}; techniques with at least one alert: {len(alerted)}: {sorted(alerted)}")
    assert len(alerted) >= 5
