"""The baseline facade: feed events, get explained alerts, persist, learn from analyst feedback.

    b = Baseline.open(state_store)              # loads saved profiles (or starts learning)
    alerts = b.update(api_events, host_events)  # incremental; call as often as events arrive (>= hourly)
    b.feedback(alert_id, scope="group")         # "expected": the behaviour joins the entity's / group's baseline
    b.save()

`update_from_lake(lake)` reads what the lake holds beyond the saved watermark, so a scheduled
`cloudwarden baseline update` is restartable: events are processed once, in time order.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import time as _time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudwarden.baseline.cloud import CloudBaseline, CloudConfig
from cloudwarden.baseline.geo import GeoLookup, NoGeo, default_geo, packaged_data_present
from cloudwarden.baseline.host import HostBaseline, HostConfig
from cloudwarden.baseline.scoring import Incident, score
from cloudwarden.baseline.store import BaselineStore
from cloudwarden.detect.grouping import WindowSpec
from cloudwarden.errors import InputError
from cloudwarden.models.alert import Alert
from cloudwarden.models.api_activity import ApiActivity
from cloudwarden.models.host_event import HostEvent
from cloudwarden.store.state import StateStore

log = logging.getLogger(__name__)

API_FIELDS = {f.name for f in dataclasses.fields(ApiActivity)}
HOST_FIELDS = {f.name for f in dataclasses.fields(HostEvent)}
_NOT_TEACHABLE = {"estate", "api_rate", "login_countries"}


@dataclass
class UpdateResult:
    api_events: int = 0
    host_events: int = 0
    alerts: list[Alert] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


def _items(inc: Incident) -> list[list[str]]:
    """[entity, item key] pairs an analyst's "expected" should teach."""
    out: list[list[str]] = []
    entities = inc.members or [inc.entity]
    for sig in inc.signals:
        if sig.item[0] in _NOT_TEACHABLE:
            continue
        key = "|".join(sig.item)
        for ent in entities:
            pair = [ent, key]
            if pair not in out:
                out.append(pair)
    return out


class Baseline:
    def __init__(
        self,
        cloud: CloudBaseline | None = None,
        host: HostBaseline | None = None,
        *,
        state: StateStore | None = None,
        geo: GeoLookup | None = None,
        use_alert_store: bool = True,
        alert_window: WindowSpec | None = None,
    ) -> None:
        self.geo = geo or NoGeo()
        self.alert_window = alert_window  # the alert grouping window (None: the store's default)
        self.cloud = cloud or CloudBaseline(geo=self.geo)
        self.host = host or HostBaseline()
        self.state = state
        self.store = BaselineStore(state) if state is not None else None
        self.use_alert_store = use_alert_store
        self.watermarks: dict[str, tuple[float, list[str]]] = {"cloud": (0.0, []), "host": (0.0, [])}
        self.last_alerts: list[tuple[Alert, Incident, int | None]] = []

    # ------------------------------------------------------------------ construction / persistence
    @classmethod
    def open(
        cls,
        state: StateStore,
        *,
        cloud_config: CloudConfig | None = None,
        host_config: HostConfig | None = None,
        geo: GeoLookup | None = None,
        offline_geo: bool = True,
        use_alert_store: bool = True,
        alert_window: WindowSpec | None = None,
    ) -> Baseline:
        geo = geo or (default_geo() if offline_geo else NoGeo())
        store = BaselineStore(state)
        saved_c, saved_h = store.load("cloud"), store.load("host")
        cloud = (CloudBaseline.from_state(saved_c.state, geo, cloud_config) if saved_c
                 else CloudBaseline(cloud_config, geo))
        host = HostBaseline.from_state(saved_h.state, host_config) if saved_h else HostBaseline(host_config)
        b = cls(cloud, host, state=state, geo=geo, use_alert_store=use_alert_store, alert_window=alert_window)
        if saved_c:
            b.watermarks["cloud"] = (saved_c.watermark, saved_c.edge_ids)
        if saved_h:
            b.watermarks["host"] = (saved_h.watermark, saved_h.edge_ids)
        return b

    def save(self) -> dict[str, int]:
        if self.store is None:
            return {}
        sizes = {}
        for name, obj in (("cloud", self.cloud), ("host", self.host)):
            wm, edge = self.watermarks[name]
            sizes[name] = self.store.save(name, obj.to_state(), wm, edge)
        return sizes

    # ------------------------------------------------------------------ learning and detection
    def update(
        self, api_events: Iterable[ApiActivity | HostEvent] = (), host_events: Iterable[ApiActivity | HostEvent] = ()
    ) -> list[Alert]:
        """Process events and return the alerts they raised, stored when a state store is attached (baseline
        findings, and the shared AlertStore when available). Either stream may also hold both kinds of record
        (`update(events)`); each batch is put in time order before it is learned."""
        apis: list[ApiActivity] = []
        hosts: list[HostEvent] = []
        for ev in (*api_events, *host_events):
            if isinstance(ev, ApiActivity):
                apis.append(ev)
            elif isinstance(ev, HostEvent):
                hosts.append(ev)
            else:
                raise InputError(f"not an ApiActivity or HostEvent: {type(ev).__name__}", source="baseline update")
        apis.sort(key=lambda a: a.time)
        hosts.sort(key=lambda h: h.time)
        n_api = n_host = 0
        for ev in _merge(apis, hosts):
            if isinstance(ev, ApiActivity):
                self.cloud.process(ev)
                n_api += 1
            else:
                self.host.process(ev)
                n_host += 1
        raised = [(a, i) for a, i in self.cloud.flush()] + [(a, i) for a, i in self.host.flush()]
        raised.sort(key=lambda ai: ai[0].first_seen)
        self.last_alerts = []
        for alert, inc in raised:
            alert_id = self._store_alert(alert, inc)
            self.last_alerts.append((alert, inc, alert_id))
        return [a for a, _ in raised]

    def _store_alert(self, alert: Alert, inc: Incident) -> int | None:
        if self.store is None or self.state is None:
            return None
        alert_id: int | None = None
        if self.use_alert_store:
            try:
                from cloudwarden.detect.alert_store import AlertStore

                ids = AlertStore(self.state, window=self.alert_window).add([alert])
                alert_id = ids[0] if ids else None
            except ImportError:  # the shared alert store is optional for the baseline itself
                alert_id = None
        fid = self.store.add_finding(alert_id=alert_id, alert=alert, score=score(inc.signals), items=_items(inc))
        return alert_id if alert_id is not None else fid

    def update_from_lake(self, lake: Any, batch: int = 50_000) -> UpdateResult:
        """Read the lake past the saved watermarks, learn and alert, and save (restartable)."""
        started = _time.perf_counter()
        result = UpdateResult()
        api_iter = _lake_rows(lake, "api_activity", self.watermarks["cloud"], batch, ApiActivity, API_FIELDS)
        host_iter = _lake_rows(lake, "host_events", self.watermarks["host"], batch, HostEvent, HOST_FIELDS)
        api_list: list[ApiActivity] = []
        host_list: list[HostEvent] = []
        for chunk in api_iter:
            api_list.extend(chunk)
        for hchunk in host_iter:
            host_list.extend(hchunk)
        result.alerts = self.update(api_list, host_list)
        result.alert_ids = [i for _, _, i in self.last_alerts if i is not None]
        result.api_events, result.host_events = len(api_list), len(host_list)
        if api_list:
            self.watermarks["cloud"] = _advance(self.watermarks["cloud"], [(a.time.timestamp(), a.event_id) for a in api_list])
        if host_list:
            self.watermarks["host"] = _advance(self.watermarks["host"], [(float(h.time), h.event_id) for h in host_list])
        self.save()
        result.seconds = _time.perf_counter() - started
        return result

    def recluster_from_lake(self, lake: Any, days: int = 28) -> int:
        """Recompute peer groups from the lake's per-principal API vectors (an Ibis aggregation, so it runs
        where the lake lives), instead of from the profiles in memory. Returns the number of groups."""

        from cloudwarden.baseline import ibis_views

        con = ibis_views.connect(lake)
        t = con.table("api_activity")
        since = datetime.fromtimestamp(self.cloud.now, UTC) - timedelta(days=days) if self.cloud.now else None
        rows = ibis_views.principal_api_vectors(t, since).to_pyarrow().to_pylist()
        self.cloud.recluster(ibis_views.vectors(rows))
        return len(self.cloud.members)

    # ------------------------------------------------------------------ feedback and explanation
    def feedback(self, alert_id: int, expected: bool = True, scope: str = "entity", by: str = "") -> int:
        """Mark an alert's behaviour as expected for its entity (or its whole peer group): it joins the
        baseline and the same behaviour no longer alerts. Returns how many entities learned something."""
        if scope not in ("entity", "group"):
            raise InputError(f"scope must be 'entity' or 'group', not {scope!r}", source="baseline feedback")
        if self.store is None:
            raise InputError("feedback needs a state store", source="baseline feedback")
        rows = self.store.findings_for(alert_id)
        if not rows:
            raise InputError(f"no baseline finding for alert {alert_id}", source="baseline feedback")
        taught = 0
        if expected:
            for row in rows:
                per_entity: dict[str, list[str]] = {}
                for ent, key in row.items:
                    per_entity.setdefault(ent, []).append(key)
                for ent, keys in per_entity.items():
                    target = self.host if row.source == "baseline-host" else self.cloud
                    if row.source == "baseline-cloud":
                        keys = self._cloud_keys(ent, keys)
                    taught += target.teach(ent, keys, scope)
        self.store.mark_feedback([r.id for r in rows], f"{'expected' if expected else 'confirmed'}-{scope}", by)
        self.save()
        return taught

    def _cloud_keys(self, entity: str, keys: list[str]) -> list[str]:
        """Credential/IP pairs live in the access-key table, not in a profile: teach them there."""
        out = []
        for k in keys:
            if k.startswith("key_ip|"):
                _, key_id, ip = k.split("|", 2)
                self.cloud.keys.setdefault(key_id, {})[ip] = self.cloud.now
            else:
                out.append(k)
        return out

    def explain(self, alert_id: int) -> list[dict[str, Any]]:
        if self.store is None:
            raise InputError("explain needs a state store", source="baseline explain")
        rows = self.store.findings_for(alert_id)
        return [
            {"finding": r.id, "alert_id": r.alert_id, "source": r.source, "entity": r.entity, "title": r.title,
             "severity": r.severity, "score": round(r.score, 3), "explanation": r.explanation, "members": r.members,
             "evidence": r.evidence, "anomaly": r.anomaly, "feedback": r.feedback,
             "first_seen": r.first_seen.isoformat(), "last_seen": r.last_seen.isoformat()}
            for r in rows
        ]

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cloud": self.cloud.status(), "host": self.host.status()}
        if self.store is not None:
            for name in ("cloud", "host"):
                saved = self.store.load(name)
                if saved:
                    out[name]["stored_bytes"] = saved.stored_bytes
                    out[name]["state_bytes"] = saved.raw_bytes
                    out[name]["saved_at"] = saved.updated_at.isoformat()
                    out[name]["watermark"] = (datetime.fromtimestamp(saved.watermark, UTC).isoformat()
                                              if saved.watermark else "")
            out["findings"] = self.store.counts()
        out["offline_geo"] = packaged_data_present()
        return out


def _merge(api_events: Iterable[ApiActivity], host_events: Iterable[HostEvent]) -> Iterator[ApiActivity | HostEvent]:
    """Both streams in one time order, so hourly housekeeping sees a single clock."""
    def keyed_api() -> Iterator[tuple[float, int, ApiActivity | HostEvent]]:
        for a in api_events:
            yield a.time.timestamp(), 0, a

    def keyed_host() -> Iterator[tuple[float, int, ApiActivity | HostEvent]]:
        for h in host_events:
            yield float(h.time), 1, h

    for _, _, ev in heapq.merge(keyed_api(), keyed_host(), key=lambda t: (t[0], t[1])):
        yield ev


def _advance(mark: tuple[float, list[str]], seen: list[tuple[float, str]]) -> tuple[float, list[str]]:
    top = max(t for t, _ in seen)
    if top < mark[0]:
        return mark
    edge = [eid for t, eid in seen if t == top]
    if top == mark[0]:
        edge = list(dict.fromkeys(mark[1] + edge))
    return top, edge


def _lake_rows(lake: Any, view: str, mark: tuple[float, list[str]], batch: int, cls: Any, fields: set[str]) -> Iterator[list[Any]]:
    """Rows of a lake view at or after the watermark, in time order, as model records (Arrow batches; the
    raw CloudTrail text is not read: every feature the baselines use has its own column)."""
    since, edge = mark
    edge_set = set(edge)
    con = lake.connect()
    try:
        cols = sorted(fields - {"raw"})
        select = ", ".join(f'"{c}"' for c in cols)
        where = "epoch(time) >= ?" if view == "api_activity" else "time >= ?"
        sql = f"SELECT {select} FROM {view} WHERE {where} ORDER BY time, event_id"  # noqa: S608 - fixed names, value bound
        try:
            reader = con.sql(sql, params=[since]).to_arrow_reader(batch)
        except Exception as exc:  # an empty lake has no files for the view yet
            if "No files found" in str(exc) or "does not exist" in str(exc):
                return
            raise
        for rb in reader:
            out = []
            for rec in rb.to_pylist():
                if rec["event_id"] in edge_set:
                    continue
                if view == "host_events" and isinstance(rec.get("extra"), list):
                    rec["extra"] = dict(rec["extra"])
                for k in ("resources", "argv", "ancestors"):
                    if k in rec and rec[k] is None:
                        rec[k] = []
                if view == "host_events" and rec.get("extra") is None:
                    rec["extra"] = {}
                out.append(cls(**rec))
            yield out
    finally:
        con.close()
