"""Everything one server process holds: settings, stores, adapters, metrics, notifier, scheduler.

The ingest paths meet here: CloudTrail records are normalised, written to the lake, run through the
detection engine, and any change that affects compliance queues a live re-check job.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cloudwarden.aws import ip_ranges
from cloudwarden.config import Settings
from cloudwarden.errors import CloudwardenError, ConfigError, InputError
from cloudwarden.notify.dispatcher import Notifier
from cloudwarden.notify.routing import ChannelConfig, channel_from_mapping
from cloudwarden.notify.store import ChannelStore
from cloudwarden.server import change_map
from cloudwarden.server.auth import LoginLimiter
from cloudwarden.server.auth_store import AuthStore
from cloudwarden.server.jobs import JobQueue
from cloudwarden.server.metrics import Metrics
from cloudwarden.server.posture_store import PostureStore
from cloudwarden.server.queries import LakeReader
from cloudwarden.server.sources import Alerts, LakeView, Unavailable, load
from cloudwarden.store.state import StateStore, open_store

log = logging.getLogger("cloudwarden.server")
CLOUDTRAIL_PUSH_WINDOWS = "server:cloudtrail-push"  # correlation_state row of the push endpoint's detector


@dataclasses.dataclass(frozen=True)
class AccountConfig:
    """One [[server.accounts]] entry: what the scheduler scans and live re-checks use for credentials."""

    name: str
    account_id: str = ""
    profile: str = ""
    endpoint_url: str = ""
    regions: tuple[str, ...] = ()
    framework: str = ""
    org_role: str = ""  # set: scan the whole Organization through this role
    trail_bucket: str = ""  # S3 bucket with AWSLogs/ to poll
    trail_prefix: str = ""


def accounts_from_settings(settings: Settings) -> list[AccountConfig]:
    out = []
    for i, raw in enumerate(settings.server.accounts):
        if not isinstance(raw, Mapping):
            raise ConfigError("each [[server.accounts]] entry must be a table", source=f"server.accounts[{i}]")
        regions = raw.get("regions") or settings.aws.regions
        out.append(AccountConfig(
            name=str(raw.get("name") or raw.get("account_id") or f"account-{i}"), account_id=str(raw.get("account_id") or ""),
            profile=str(raw.get("profile") or settings.aws.profile), endpoint_url=str(raw.get("endpoint_url") or settings.aws.endpoint_url),
            regions=tuple(str(r) for r in regions), framework=str(raw.get("framework") or ""),
            org_role=str(raw.get("org_role") or raw.get("organization_role") or ""), trail_bucket=str(raw.get("trail_bucket") or ""),
            trail_prefix=str(raw.get("trail_prefix") or ""),
        ))
    return out


def load_secret(settings: Settings) -> bytes:
    if settings.server.secret_key:
        return settings.server.secret_key.encode()
    path = settings.home_path / "server-secret"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class ServerContext:
    def __init__(self, settings: Settings, state: StateStore | None = None) -> None:
        self.settings = settings
        self.state = state or open_store(settings.state_url)
        self.auth = AuthStore(self.state)
        self.jobs = JobQueue(self.state)
        self.posture = PostureStore(self.state)
        self.alerts = Alerts(self.state, window=settings.alerts.group_window())
        self.lake = LakeView(settings.lake_path)
        self.reader = LakeReader(settings.lake_path)
        self.metrics = Metrics()
        self.secret = load_secret(settings)
        self.limiter = LoginLimiter(settings.server.login_max_failures, settings.server.login_window_s)
        self.channel_store = ChannelStore(self.state)
        self.accounts = accounts_from_settings(settings)
        self._toml_channels = [channel_from_mapping(c, where=f"notify.channels[{i}]") for i, c in enumerate(settings.notify.channels)]
        n = settings.notify
        self.notifier = Notifier(self.channels, group_window_s=n.group_window_s, max_per_minute=n.max_per_minute,
                                 queue_max=n.queue_max, retries=n.retries,
                                 on_send=lambda ch, outcome: self.metrics.notify_sent.labels(channel=ch, outcome=outcome).inc())
        self._detector: Any = None
        self._detector_error = ""
        self._push_windows: Any = None  # SavedWindows of the push endpoint's detector
        self._detector_lock = threading.Lock()
        self.scheduler: Any = None
        self.host_ingest: Any = None

    # notification channels ----------------------------------------------------------------------------
    def channels(self) -> list[ChannelConfig]:
        return [*self._toml_channels, *self.channel_store.list()]

    # alerts -------------------------------------------------------------------------------------------
    def raise_alerts(self, alerts: Iterable[Any]) -> list[int]:
        alerts = list(alerts)
        if not alerts:
            return []
        # per input alert (suppressed: None): `add` returns grouped, de-duplicated ids, which do not line up
        # with the inputs, so zipping them notified suppressed alerts under another alert's id
        each = self.alerts.add_each(alerts)
        ids: list[int] = []
        seen: set[int] = set()
        for a, alert_id in zip(alerts, each, strict=True):
            if alert_id is None:
                continue
            if alert_id not in seen:
                seen.add(alert_id)
                ids.append(alert_id)
            self.metrics.alerts.labels(source=a.source, severity=a.severity).inc()
            data = {f.name: getattr(a, f.name) for f in dataclasses.fields(a)}
            data["id"] = alert_id
            self.notifier.submit(data)
        return ids

    # detection ----------------------------------------------------------------------------------------
    def detector(self) -> Any:
        """The CloudTrail detection stage (built-in + uploaded rules), built once; None when unavailable."""
        with self._detector_lock:
            if self._detector is None and not self._detector_error:
                try:
                    stage_cls = load("cloudwarden.cloudtrail.ingest", "DetectionStage")
                    custom = self.settings.home_path / "rules" / "custom"
                    self._detector = stage_cls([custom] if custom.is_dir() else [], True)
                    self._restore_push_windows(self._detector.detector)
                except Exception as exc:  # noqa: BLE001 - detection missing or broken: ingest still stores events
                    self._detector_error = f"{type(exc).__name__}: {exc}"
                    log.warning("detection unavailable", extra={"fields": {"error": self._detector_error}})
            return self._detector

    def _restore_push_windows(self, det: Any) -> None:
        """Correlation windows of pushed CloudTrail survive a server restart (as the CLI ingest's do)."""
        if det.ruleset.correlations:
            self._push_windows = load("cloudwarden.detect.correlation_store", "SavedWindows")(
                self.state, CLOUDTRAIL_PUSH_WINDOWS, "pushed CloudTrail")
            self._push_windows.restore(det)

    def _save_push_windows(self, det: Any) -> None:
        if self._push_windows is not None and det.ruleset.correlations:
            self._push_windows.save(det)

    def reload_rules(self) -> None:
        with self._detector_lock:
            self._detector, self._detector_error = None, ""

    def disabled_rules(self) -> set[str]:
        return load("cloudwarden.detect.toggles", "read_disabled")(self.settings.home_path)  # type: ignore[no-any-return]

    # CloudTrail ingest --------------------------------------------------------------------------------
    def aws_ranges(self) -> Any:
        """AWS's IP ranges from the home folder (`trail update-ranges`), re-read only when the file changes;
        None without a usable file (the rules then work without them)."""
        path = self.settings.home_path / ip_ranges.FILE_NAME
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = getattr(self, "_aws_ranges", None)
        if cached is None or cached[0] != stamp:
            try:
                cached = (stamp, ip_ranges.load(path))
            except CloudwardenError as exc:
                log.warning("AWS IP ranges not used: %s", exc)
                cached = (stamp, None)
            self._aws_ranges = cached
        return cached[1]

    def ingest_cloudtrail(self, records: list[Any], *, detect: bool = True) -> dict[str, Any]:
        """Normalise, store, detect, and queue live compliance re-checks. Bad records are counted and named."""
        normalize = load("cloudwarden.cloudtrail.normalize", "normalize")
        import orjson

        rows, errors, good_records = [], [], []
        for i, rec in enumerate(records):
            try:
                rows.append(normalize(rec, orjson.dumps(rec).decode()))
                good_records.append(rec)
            except Exception as exc:  # noqa: BLE001 - one bad record is reported and skipped
                errors.append(f"Records[{i}]: {exc}")
        written = int(self.lake.lake.write_api_activity(rows)) if rows else 0
        self.metrics.ingested.labels(kind="cloudtrail").inc(written)
        alerts_raised = 0
        det = self.detector() if detect else None
        if det is not None:
            found = []
            with ip_ranges.activated(self.aws_ranges()):
                for rec, row in zip(good_records, rows, strict=True):
                    try:
                        found.extend(det.process(rec, row.time))
                    except Exception as exc:  # noqa: BLE001 - a detector error must not lose the stored events
                        errors.append(f"detect {row.event_id}: {type(exc).__name__}: {exc}")
            disabled = self.disabled_rules()
            found = [a for a in found if a.rule_id not in disabled]
            if found:
                merge = load("cloudwarden.cloudtrail.ingest", "merge_alerts")
                alerts_raised = len(self.raise_alerts(merge(found, self.settings.alerts.group_window(),
                                                            explain=det.detector.explain_alert)))
            self._save_push_windows(det.detector)  # after the alerts: a crash in between re-counts by event id
        queued = self.queue_changes(records)
        return {"received": len(records), "written": written, "skipped": len(errors), "errors": errors[:20],
                "alerts": alerts_raised, "rechecks_queued": queued}

    def queue_changes(self, records: Iterable[Mapping[str, Any]]) -> int:
        targets = [t for t in (change_map.change_target(r) for r in records if isinstance(r, Mapping)) if t is not None]
        n = 0
        for t in change_map.coalesce(targets):
            job = self.jobs.enqueue("live_recheck", dataclasses.asdict(t), dedupe=f"live:{t.account}:{t.service}:{t.region}")
            n += job is not None
        return n

    def account_for(self, account_id: str) -> AccountConfig:
        for a in self.accounts:
            if a.account_id and a.account_id == account_id:
                return a
        unnamed = [a for a in self.accounts if not a.account_id]
        if len(unnamed) == 1:
            return unnamed[0]  # its account id is checked against the credentials before re-collecting
        raise InputError(f"no [[server.accounts]] entry for account {account_id}", source="server.accounts")

    def close(self) -> None:
        self.notifier.stop(flush=True)
        self.reader.close()
        self.state.dispose()


def unavailable_reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, Unavailable) else f"{type(exc).__name__}: {exc}"


def home_file(settings: Settings, name: str) -> Path:
    return settings.home_path / name
