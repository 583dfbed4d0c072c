"""Hand-built records for the baseline tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from cloudwarden.baseline.cloud import CloudBaseline, CloudConfig
from cloudwarden.baseline.geo import StaticGeo
from cloudwarden.models.api_activity import ApiActivity
from cloudwarden.models.host_event import HostEvent

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
ACCT = "111122223333"
_ids = count()

GEO = StaticGeo({
    "71.202.40.0/24": ("COMCAST-7922", "US"),
    "73.162.0.0/16": ("COMCAST-7922", "US"),
    "5.188.10.0/24": ("Green Floid LLC", "RU"),
    "185.220.101.0/24": ("Stiftung Erneuerbare Freiheit", "DE"),
    "54.86.0.0/16": ("AMAZON-AES", "US"),
    "86.153.0.0/16": ("British Telecommunications PLC", "GB"),
})


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCT}:user/{name}"


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCT}:role/{name}"


def act(
    principal: str,
    api: str,
    when: datetime,
    service: str = "ec2.amazonaws.com",
    *,
    ip: str = "71.202.40.5",
    region: str = "us-east-1",
    error: str = "",
    ptype: str = "IAMUser",
    key: str = "AKIAEXAMPLE",
    session: str = "",
    ua_family: str = "aws-cli",
    read_only: bool | None = None,
    resources: list[str] | None = None,
    event_type: str = "AwsApiCall",
) -> ApiActivity:
    if read_only is None:
        read_only = api.startswith(("Describe", "List", "Get"))
    return ApiActivity(
        event_id=f"e{next(_ids)}", time=when, account=ACCT, region=region, service=service, api=api,
        principal=principal, principal_type=ptype, session_name=session, read_only=read_only, error_code=error,
        source_ip=ip, user_agent="aws-cli/2.15.0", ua_family=ua_family, access_key_id=key,
        credential_kind="temporary" if key.startswith("ASIA") else "long-term", event_type=event_type,
        resources=resources or [],
    )


def day(n: int, hour: float = 10.0) -> datetime:
    return T0 + timedelta(days=n, hours=hour)


def baseline(**cfg: Any) -> CloudBaseline:
    cfg.setdefault("learning_days", 3.0)
    return CloudBaseline(CloudConfig(**cfg), GEO)


def learn_devs(b: CloudBaseline, names: list[str], apis: list[tuple[str, str]], days: int = 4,
               extra: dict[str, list[tuple[str, str]]] | None = None) -> None:
    """Principals doing the same work every day of the learning period (and a day after)."""
    for d in range(days):
        for i, name in enumerate(names):
            for j, (svc, api) in enumerate(apis + (extra or {}).get(name, [])):
                b.process(act(user(name), api, day(d, 9 + i * 0.1 + j * 0.001), svc))


_hseq = count()


def hev(host: str, when: float, kind: str, action: str, **kw: Any) -> HostEvent:
    return HostEvent(event_id=f"{host}:t:{next(_hseq)}", host_id=host, hostname=host, time=when, kind=kind,
                     action=action, source="replay", **kw)


def exec_(host: str, when: float, exe: str, parent: str, user: str = "root", **kw: Any) -> HostEvent:
    return hev(host, when, "process", "exec", exe=exe, parent_exe=parent, ancestors=[parent], user=user, **kw)


def connect(host: str, when: float, exe: str, ip: str, port: int, **kw: Any) -> HostEvent:
    return hev(host, when, "network", "connect", exe=exe, dst_ip=ip, dst_port=port, direction="outbound", **kw)
