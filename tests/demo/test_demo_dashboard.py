"""The demo's dashboard stages on a real moto_server: the scan becomes the posture, a short simulated
estate goes through CloudTrail ingest, host rules and baselines, and every page renders populated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloudwarden.config import load_settings
from cloudwarden.demo import dashboard


@pytest.mark.slow
def test_populate_fills_every_page(moto: Any, tmp_path: Path) -> None:
    from cloudwarden.compliance.runner import ScanOptions, scan
    from cloudwarden.demo.aws_account import seed_company

    seed_company(moto.url)
    run = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1"], services={"s3", "iam"}))
    settings = load_settings()
    settings.server.scheduler_enabled = False
    app = dashboard.build_app(settings, moto.url, "us-east-1")
    said: list[str] = []
    dashboard.populate(app.state.ctx, run, tmp_path, said.append, days=4)
    text = "\n".join(said)
    assert "skipped" not in text, text
    assert re.search(r"CloudTrail history -> lake \+ rules: [\d,]+ events stored", text)
    ctx = app.state.ctx
    ctx.auth.add_user("demo", "demo-password-1", "viewer")
    c = TestClient(app)
    page = c.get("/login", headers={"accept": "text/html"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    c.post("/login", data={"username": "demo", "password": "demo-password-1", "csrf": csrf})
    assert "cis-7.0" in c.get("/posture", headers={"accept": "text/html"}).text
    assert c.get("/api/v1/alerts").json()["total"] > 0
    assert len(c.get("/api/v1/events").json()["items"]) == 50
    assert len(c.get("/api/v1/hosts").json()["items"]) >= 3

    # the demo's live example: a real policy change on moto plus its CloudTrail record flips the control
    from cloudwarden.server.scheduler import Scheduler

    msg = dashboard._live_change(ctx, moto.url, "us-east-1")
    assert "Live change" in msg, msg
    worker = Scheduler(ctx)
    while worker.run_one():
        pass
    flips = [ch for ch in ctx.posture.changes(10) if ch["check_id"] == "s3_bucket_secure_transport_policy"]
    assert flips and flips[0]["new_status"] == "FAIL" and "intruder" in flips[0]["cause"]
    assert c.get("/api/v1/alerts", params={"source": "compliance"}).json()["total"] >= 1


def test_a_missing_subsystem_skips_its_stage_with_a_reason() -> None:
    said: list[str] = []

    def broken() -> str:
        raise ModuleNotFoundError("No module named 'cloudwarden.baseline.engine'")

    assert dashboard.stage("baselines", said.append, broken) is False
    assert "baselines: skipped" in said[0] and "cloudwarden.baseline.engine" in said[0]
