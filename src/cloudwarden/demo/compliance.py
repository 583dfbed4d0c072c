"""The compliance part of `cloudwarden demo`, as small composable steps so the demo command (and the
server helper's extended demo: CloudTrail/host replay, dashboard) can chain them:

    with simulated_account(workdir) as account:      # moto_server on 127.0.0.1 + seeded company
        outcome = scan_demo_account(account, out_dir, state)   # scan, store, every report format
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudwarden.compliance.report import FILE_FORMATS
from cloudwarden.compliance.runner import ProgressFn
from cloudwarden.compliance.service import ScanOutcome, ScanRequest, finish_scan, run_scan
from cloudwarden.compliance.store import ScanStore
from cloudwarden.config import Settings
from cloudwarden.demo.aws_account import DEFAULT_REGION, seed_company
from cloudwarden.demo.moto import MotoServer
from cloudwarden.store.state import StateStore

DEMO_FRAMEWORKS = ["cis-7.0", "soc2", "pci-4.0", "hipaa"]
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
}


@dataclass
class DemoAccount:
    endpoint_url: str
    region: str
    seeded: dict[str, Any]


def demo_dir(settings: Settings) -> Path:
    """$CLOUDWARDEN_HOME/demo when CLOUDWARDEN_HOME is set, else ./cloudwarden-demo."""
    return settings.home_path / "demo" if os.environ.get("CLOUDWARDEN_HOME") else Path.cwd() / "cloudwarden-demo"


@contextmanager
def fake_aws_credentials() -> Iterator[None]:
    """The simulated account must never be reached with real credentials, nor real AWS with the demo's:
    the demo's clients use fixed fake keys and no profile while it runs."""
    saved = {k: os.environ.get(k) for k in (*FAKE_CREDENTIALS, "AWS_PROFILE")}
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def simulated_account(workdir: Path, region: str = DEFAULT_REGION) -> Iterator[DemoAccount]:
    """Start moto_server on a free loopback port, seed the company, stop the server on exit."""
    with fake_aws_credentials(), MotoServer(log_path=workdir / "moto_server.log") as server:
        seeded = seed_company(server.url, region)
        yield DemoAccount(server.url, region, seeded)


def scan_demo_account(
    account: DemoAccount,
    out_dir: Path,
    state: StateStore | None,
    frameworks: list[str] | None = None,
    progress: ProgressFn | None = None,
) -> ScanOutcome:
    """Scan the simulated account and write every report format into out_dir."""
    req = ScanRequest(frameworks=frameworks or list(DEMO_FRAMEWORKS), regions=[account.region], endpoint_url=account.endpoint_url)
    with fake_aws_credentials():
        record = run_scan(req, progress=progress)
    return finish_scan(
        record,
        store=ScanStore(state) if state is not None else None,
        formats=["terminal", *FILE_FORMATS],
        out=out_dir,
        default_dir=out_dir,
        stem="compliance-report",
    )
