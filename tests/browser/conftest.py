"""Browser fixtures: a populated server (uvicorn on a free loopback port, in a thread) and Debian's Chromium
driven by Playwright. Hostile strings are planted in alerts, CloudTrail events and host events."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
XSS = [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "<script>window.__pwned=2;alert(2)</script>",
    '"><svg onload=alert(3) id=xss-injected>',
    "javascript:alert(4)",
    "{{7*7}}<b id=xss-bold>bold</b>",
]
ADMIN_PW = "browser-admin-pw"


@dataclass
class LiveServer:
    url: str
    ctx: Any


def _populate(ctx: Any, lake_root: Path) -> None:
    from cloudwarden.models.alert import Alert
    from cloudwarden.models.host_event import HostEvent
    from cloudwarden.server.posture_store import Result
    from cloudwarden.store.lake import Lake

    acct = "111122223333"
    results = []
    for i in range(60):
        status = "FAIL" if i % 4 == 0 else "PASS"
        results.append(Result(acct, f"check_{i % 9}", f"arn:aws:s3:::bucket-{i}{XSS[i % len(XSS)] if i < 5 else ''}", "global",
                              status, f"reason {XSS[i % len(XSS)]}", severity=["critical", "high", "medium", "low"][i % 4],
                              service="s3", title=f"Control {i % 9} {XSS[0] if i % 9 == 0 else ''}", remediation=f"Fix it. {XSS[1]}",
                              controls=f"cis-7.0:{1 + i % 5}.{i % 9} soc2:CC{i % 3}"))
    ctx.posture.apply(results, account=acct, checks=[], cause="scan 1")
    flipped = [r if r.resource_arn != "arn:aws:s3:::bucket-7" else Result(**{**r.__dict__, "status": "FAIL"}) for r in results]
    ctx.posture.apply(flipped, account=acct, checks=[], cause=f"PutBucketPolicy by arn:aws:iam::{acct}:user/{XSS[2]}", kind="live")
    t = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    alerts = []
    for i, payload in enumerate(XSS):
        alerts.append(Alert(rule_id=f"rule-{i}", title=f"Suspicious {payload}", severity=["critical", "high", "medium", "low", "high"][i],
                            source="cloudtrail", explanation=f"Because {payload}", first_seen=t, last_seen=t + timedelta(minutes=i),
                            entity=f"arn:aws:iam::{acct}:user/{payload}", account=acct, region="us-east-1",
                            evidence=[{"userAgent": payload, "eventName": "StopLogging"}], evidence_ids=[f"ev-{i}"]))
    # a grouped alert: three events of the same rule and entity
    for j in range(3):
        alerts.append(Alert(rule_id="rule-grouped", title="Console login without MFA", severity="high", source="cloudtrail",
                            explanation="login without MFA", first_seen=t, last_seen=t + timedelta(minutes=j),
                            entity=f"arn:aws:iam::{acct}:user/bob", account=acct, evidence=[{"n": j}], evidence_ids=[f"grp-{j}"]))
    ctx.raise_alerts(alerts)

    from cloudwarden.cloudtrail.normalize import normalize

    records = []
    for i in range(200):
        payload = XSS[i % len(XSS)]
        records.append({
            "eventVersion": "1.08", "eventID": f"evt-{i:04d}", "eventTime": (t + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "eventSource": "s3.amazonaws.com" if i % 2 else "iam.amazonaws.com", "eventName": "PutBucketPolicy" if i % 2 else "CreateUser",
            "awsRegion": "us-east-1" if i % 3 else "eu-west-1", "sourceIPAddress": f"198.51.100.{i % 50}",
            "userAgent": f"aws-cli/2 {payload}", "recipientAccountId": acct, "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{acct}:user/u{i % 4}{payload if i % 10 == 0 else ''}",
                             "accountId": acct, "accessKeyId": "AKIAEXAMPLE"},
            "requestParameters": {"bucketName": f"b{payload}"},
        })
    import orjson

    Lake(lake_root).write_api_activity([normalize(r, orjson.dumps(r).decode()) for r in records])
    hev = []
    base = t.timestamp()
    chain = [("/usr/sbin/sshd", "/bin/bash"), ("/bin/bash", "/usr/bin/curl"), ("/bin/bash", "/usr/bin/python3"),
             ("/usr/bin/python3", f"/tmp/{XSS[0]}"), ("/bin/bash", "/usr/bin/sudo")]
    n = 0
    for host in ("web-1", "web-2"):
        for k, (parent, exe) in enumerate(chain * 3):
            n += 1
            hev.append(HostEvent(event_id=f"{host}:audit:{n}", host_id=host, hostname=f"{host}.internal", time=base + n, kind="process",
                                 action="exec", source="audit", pid=1000 + n, ppid=900 + k, uid=1000, user="deploy", exe=exe,
                                 argv=[exe, XSS[k % len(XSS)]], parent_exe=parent))
        for k, (exe, ip, port, ext) in enumerate([("/usr/bin/curl", "203.0.113.50", 443, True), ("/usr/bin/python3", "10.0.0.5", 5432, False),
                                                   (f"/tmp/{XSS[0]}", "198.51.100.66", 4444, True)]):
            n += 1
            hev.append(HostEvent(event_id=f"{host}:sock:{n}", host_id=host, hostname=f"{host}.internal", time=base + n, kind="network",
                                 action="connect", source="sock_diag", pid=2000 + k, exe=exe, dst_ip=ip, dst_port=port, protocol="tcp",
                                 direction="outbound", external=ext))
    Lake(lake_root).write_host_events(hev)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: browser tests drive Debian's chromium (apt install chromium)")
    import uvicorn

    from cloudwarden.config import load_settings
    from cloudwarden.server.app import create_app
    from tests.helpers.moto_server import free_port

    home = tmp_path_factory.mktemp("browser-home")
    settings = load_settings()
    settings.home = str(home)
    settings.server.scheduler_enabled = False
    app = create_app(settings)
    ctx = app.state.ctx
    ctx.auth.add_user("admin", ADMIN_PW, "admin")
    _populate(ctx, settings.lake_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield LiveServer(f"http://127.0.0.1:{port}", ctx)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Page:
    page: Any
    dialogs: list[str]
    csp_errors: list[str]


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    p = ctx.new_page()
    dialogs: list[str] = []
    csp: list[str] = []
    p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    p.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    yield Page(p, dialogs, csp)
    ctx.close()


def login(p: Any, base: str) -> None:
    p.goto(f"{base}/posture")
    p.fill("input[name=username]", "admin")
    p.fill("input[name=password]", ADMIN_PW)
    p.click("button[type=submit]")
    p.wait_for_url(f"{base}/posture")


def shot(p: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
