"""Typed settings. Precedence: environment variables > cloudwarden.toml > defaults.

Environment variables are named CLOUDWARDEN_<SECTION>_<KEY> (for example CLOUDWARDEN_STORE_STATE_URL) or
CLOUDWARDEN_<KEY> for top-level keys. The toml file is looked up at $CLOUDWARDEN_CONFIG, then
./cloudwarden.toml. Sections add fields here as the product grows; keep every field typed and defaulted.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, get_type_hints

from cloudwarden.detect.grouping import GroupWindow
from cloudwarden.errors import ConfigError
from cloudwarden.models.alert import SEVERITY_ORDER


def default_home() -> Path:
    return Path(os.environ.get("CLOUDWARDEN_HOME", Path.cwd() / ".cloudwarden"))


@dataclass
class StoreSettings:
    state_url: str = ""  # SQLAlchemy URL; empty means sqlite:///<home>/state.db
    lake_path: str = ""  # Parquet lake folder; empty means <home>/lake


@dataclass
class AwsSettings:
    profile: str = ""
    endpoint_url: str = ""  # point every client at moto_server or LocalStack
    regions: list[str] = field(default_factory=list)  # empty: every enabled region
    org_role: str = ""  # role name assumed in each member account of an Organization
    max_workers: int = 16  # bounded concurrency of API calls per scan


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = ""  # session signing key; generated and kept in <home> when empty
    max_body_bytes: int = 10 * 1024 * 1024
    # Scheduler (seconds; 0 disables the job). Accounts are [[server.accounts]] tables:
    # {name, account_id, profile, role_arn, endpoint_url, regions, framework, organization}.
    accounts: list[dict[str, Any]] = field(default_factory=list)
    scan_interval_s: int = 3600
    trail_poll_interval_s: int = 60
    # download AWS's IP ranges (ip-ranges.json) into the home folder this often; 0 (the default) leaves it to
    # `cloudwarden trail update-ranges` (air-gapped servers cannot reach AWS's URL)
    aws_ranges_interval_s: int = 0
    aws_ranges_url: str = "https://ip-ranges.amazonaws.com/ip-ranges.json"
    baseline_interval_s: int = 3600
    report_interval_s: int = 86400
    scheduler_enabled: bool = True
    workers: int = 2  # job worker threads
    cookie_secure: str = "auto"  # auto (Secure when the request is https) | true | false
    session_hours: int = 12
    login_max_failures: int = 5  # per client and user name within login_window_s
    login_window_s: int = 300
    metrics_token: str = ""  # lets a Prometheus scraper read /metrics without a user token
    # Host agents: enrollment needs this secret (or the admin token); admin_token protects agent list/revoke
    # until the server's user auth is wired in. Empty disables that path.
    agent_enroll_secret: str = ""
    admin_token: str = ""
    agent_max_batch_events: int = 10000


@dataclass
class NotifySettings:
    # Channels are [[notify.channels]] tables: {name, kind=slack|webhook|email, url, secret, smtp_host,
    # smtp_port, mail_from, mail_to, min_severity, sources}. More can be added from the dashboard.
    channels: list[dict[str, Any]] = field(default_factory=list)
    group_window_s: float = 30.0  # alerts arriving within the window become one digest per channel
    max_per_minute: int = 6  # messages per channel per minute; the rest waits for the next digest
    queue_max: int = 10000
    retries: int = 3


@dataclass
class AgentSettings:
    server_url: str = ""
    spool_path: str = ""  # empty means <home>/agent-spool
    spool_max_bytes: int = 256 * 1024 * 1024
    internal_cidrs: list[str] = field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8"]
    )
    sources: list[str] = field(default_factory=list)  # empty: every usable source, best first
    watch_paths: list[str] = field(default_factory=list)  # extra files/dirs watched like the sensitive ones
    auth_log_paths: list[str] = field(default_factory=lambda: ["/var/log/auth.log", "/var/log/secure"])
    audit_auid: int = -1  # >= 0 limits audit rules to one login uid (tests on shared machines)
    sock_diag_interval_s: float = 5.0
    transfer_window_s: float = 60.0
    queue_max: int = 20000  # events between the sources and the spool writer; beyond it they are counted and dropped
    tls_verify: str = "true"  # true | false | path to a CA bundle


@dataclass
class BaselineSettings:
    learning_days: float = 7.0  # nothing alerts before the estate has been watched this long
    host_learning_days: float = 7.0
    min_score: float = 0.3  # behaviour scoring below this is learned silently
    offline_geo: bool = True  # ASN/country from the geoip2fast package's local data file (never a network lookup)


@dataclass
class DetectSettings:
    # Values of Sigma `|expand` placeholders: [detect.placeholders] admin_users = ["alice", "bob"]. A rule
    # using a placeholder with no values here is reported unsupported (see detect/placeholders.py).
    placeholders: dict[str, list[str]] = field(default_factory=dict)
    placeholders_file: str = ""  # YAML/TOML/JSON file of more lists (the inline table wins on a name)


@dataclass
class AlertsSettings:
    # alert_evidence rows (the event ids that make re-ingesting idempotent) are deleted for alerts with no
    # event and no update for this many days; a replay of events older than that can count again. 0 keeps all.
    evidence_retention_days: int = 90
    prune_resolved: bool = False  # also delete whole resolved alerts past the horizon
    prune_interval_s: int = 86400  # the server scheduler's prune job (0 disables it; `alerts prune` still works)
    # firings of one rule by one principal in one account join an open alert while each comes within this many
    # minutes of the alert's events (longer: fewer, longer-lived alerts; a resolved alert is never reopened)
    group_window_minutes: int = 60
    # severities that group with another window: [alerts.group_window_by_severity] low = 1440 (environment:
    # CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_SEVERITY="low=1440,informational=1440")
    group_window_by_severity: dict[str, int] = field(default_factory=dict)
    # rules that group with another window (wins over the severity's): [alerts.group_window_by_rule]
    # "rule-id" = minutes (environment: CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_RULE="rule-id=minutes,other-id=minutes")
    group_window_by_rule: dict[str, int] = field(default_factory=dict)

    def group_window(self) -> GroupWindow:
        """The grouping window of every alert; raises ConfigError naming the bad setting."""
        default = _window_minutes(self.group_window_minutes, "group_window_minutes")
        by_severity = _windows(self.group_window_by_severity, "group_window_by_severity", "severity")
        unknown = sorted(set(by_severity) - set(SEVERITY_ORDER))
        if unknown:
            raise ConfigError(f"unknown severity {unknown[0]!r} (one of {', '.join(SEVERITY_ORDER)})",
                              source="[alerts.group_window_by_severity]")
        return GroupWindow(default, _windows(self.group_window_by_rule, "group_window_by_rule", "rule-id"), by_severity)


def _windows(table: Any, name: str, what: str) -> dict[str, timedelta]:
    """A table of name = minutes (from the file), or "name=minutes,..." (from the environment)."""
    if isinstance(table, str):
        pairs: dict[str, Any] = {}
        for part in (p.strip() for p in table.split(",")):
            key, sep, text = part.partition("=")
            if part and (not sep or not key.strip()):
                raise ConfigError(f"expected {what}=minutes, got {part!r}", source=name)
            if part:
                pairs[key.strip()] = text.strip()
        table = pairs
    if not isinstance(table, dict):
        raise ConfigError(f"must be a table of {what} = minutes", source=f"[alerts.{name}]")
    windows: dict[str, timedelta] = {}
    for key, minutes in table.items():
        if isinstance(minutes, str) and minutes.isdigit():
            minutes = int(minutes)
        windows[str(key)] = _window_minutes(minutes, f"{name}.{key}")
    return windows


def _window_minutes(minutes: Any, name: str) -> timedelta:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 43_200:
        raise ConfigError(f"{name} must be a whole number of minutes between 1 and 43200 (30 days), got {minutes!r}",
                          source="[alerts]")
    return timedelta(minutes=minutes)


@dataclass
class Settings:
    home: str = ""
    log_level: str = "INFO"
    store: StoreSettings = field(default_factory=StoreSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    baseline: BaselineSettings = field(default_factory=BaselineSettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)

    @property
    def home_path(self) -> Path:
        return Path(self.home) if self.home else default_home()

    @property
    def state_url(self) -> str:
        return self.store.state_url or f"sqlite:///{self.home_path / 'state.db'}"

    @property
    def lake_path(self) -> Path:
        return Path(self.store.lake_path) if self.store.lake_path else self.home_path / "lake"


def _coerce(value: str, typ: Any, name: str) -> Any:
    try:
        if typ is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if typ is int:
            return int(value)
        if typ is float:
            return float(value)
        if typ == list[str]:
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
    except ValueError as exc:
        raise ConfigError(f"invalid value {value!r}", source=name) from exc


def _apply(obj: Any, data: dict[str, Any], env_prefix: str, source: str) -> None:
    hints = get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        typ = hints[f.name]
        current = getattr(obj, f.name)
        if dataclasses.is_dataclass(current):
            section = data.get(f.name, {})
            if not isinstance(section, dict):
                raise ConfigError(f"[{f.name}] must be a table", source=source)
            _apply(current, section, f"{env_prefix}{f.name.upper()}_", source)
            continue
        if f.name in data:
            value = data[f.name]
            if typ == list[str] and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ConfigError(f"{f.name} must be a list of strings", source=source)
            if typ in (int, float, str, bool) and not isinstance(value, typ):
                raise ConfigError(f"{f.name} must be {typ.__name__}", source=source)
            setattr(obj, f.name, value)
        env_name = f"{env_prefix}{f.name.upper()}"
        if env_name in os.environ:
            setattr(obj, f.name, _coerce(os.environ[env_name], typ, env_name))


def load_settings(path: Path | None = None) -> Settings:
    """Build settings from defaults, then the toml file, then the environment."""
    if path is None:
        env_path = os.environ.get("CLOUDWARDEN_CONFIG")
        path = Path(env_path) if env_path else Path("cloudwarden.toml")
        must_exist = bool(env_path)
    else:
        must_exist = True
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(exc), source=str(path)) from exc
    elif must_exist:
        raise ConfigError("configuration file not found", source=str(path))
    settings = Settings()
    _apply(settings, data, "CLOUDWARDEN_", str(path))
    return settings
