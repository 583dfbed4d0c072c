"""Channel configuration and routing by severity and source. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.errors import ConfigError

SEVERITY_ORDER = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
KINDS = ("slack", "webhook", "email")


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    kind: str  # slack | webhook | email
    url: str = ""  # slack and webhook
    secret: str = ""  # webhook HMAC key
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "cloudwarden@localhost"
    mail_to: tuple[str, ...] = ()
    min_severity: str = "high"
    sources: tuple[str, ...] = ()  # empty: every source
    enabled: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The channel as shown in the dashboard: never the secret or the webhook URL's token part."""
        url = self.url
        if url:
            head, _, _ = url.partition("//")
            host = url.split("//", 1)[-1].split("/", 1)[0]
            url = f"{head}//{host}/…"
        return {"name": self.name, "kind": self.kind, "url": url, "min_severity": self.min_severity,
                "sources": list(self.sources), "mail_to": list(self.mail_to), "enabled": self.enabled,
                "smtp": f"{self.smtp_host}:{self.smtp_port}" if self.kind == "email" else ""}


def channel_from_mapping(data: Mapping[str, Any], where: str = "notify.channels") -> ChannelConfig:
    name = str(data.get("name") or "")
    kind = str(data.get("kind") or "")
    if not name:
        raise ConfigError("channel needs a name", source=where)
    if kind not in KINDS:
        raise ConfigError(f"channel {name!r}: kind must be one of {', '.join(KINDS)}", source=where)
    sev = str(data.get("min_severity") or "high")
    if sev not in SEVERITY_ORDER:
        raise ConfigError(f"channel {name!r}: min_severity {sev!r} unknown", source=where)
    if kind in ("slack", "webhook") and not str(data.get("url") or "").startswith(("http://", "https://")):
        raise ConfigError(f"channel {name!r}: url must be http(s)", source=where)
    mail_to = data.get("mail_to") or ()
    if isinstance(mail_to, str):
        mail_to = [m.strip() for m in mail_to.split(",") if m.strip()]
    if kind == "email" and not mail_to:
        raise ConfigError(f"channel {name!r}: mail_to is required", source=where)
    sources = data.get("sources") or ()
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    return ChannelConfig(
        name=name, kind=kind, url=str(data.get("url") or ""), secret=str(data.get("secret") or ""),
        smtp_host=str(data.get("smtp_host") or "127.0.0.1"), smtp_port=int(data.get("smtp_port") or 25),
        mail_from=str(data.get("mail_from") or "cloudwarden@localhost"), mail_to=tuple(mail_to),
        min_severity=sev, sources=tuple(sources), enabled=bool(data.get("enabled", True)),
    )


def matches(channel: ChannelConfig, alert: Mapping[str, Any]) -> bool:
    if not channel.enabled:
        return False
    if SEVERITY_ORDER.get(str(alert.get("severity", "")), 0) < SEVERITY_ORDER[channel.min_severity]:
        return False
    return not channel.sources or str(alert.get("source", "")) in channel.sources


def route(alert: Mapping[str, Any], channels: Iterable[ChannelConfig]) -> list[ChannelConfig]:
    return [c for c in channels if matches(c, alert)]
