"""Cloud principal baseline: first-seen tuples, rarity by active days, peer groups, rates, sessions, travel.

Pure core: `CloudBaseline.process(activity)` updates the profiles and may raise `Signal`s; signals of one
principal close in time form an `Incident`; `flush()` scores incidents and returns those worth an alert.
Nothing here reads files or databases; `engine.py` and `store.py` do.

A behaviour is anomalous only when it is new (or rare) for the principal *and* uncommon in its peer group,
and it only becomes an alert when its sensitivity × unusualness, raised by agreeing independent signals,
passes `min_score`; everything else is learned silently.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from cloudwarden.baseline import peers as peer_mod
from cloudwarden.baseline.features import (
    DAY,
    error_bucket,
    hour_bucket,
    is_enumeration_api,
    is_read_api,
    sensitivity,
    short_service,
    ua_family,
)
from cloudwarden.baseline.geo import GeoLookup, IpInfo, NoGeo, distance_km
from cloudwarden.baseline.scoring import Incident, Signal, score, to_alert
from cloudwarden.baseline.stats import RateStat, active_days, new_record, touch
from cloudwarden.models.alert import Alert
from cloudwarden.models.api_activity import ApiActivity

SEP = "|"
_INSTANCE_SESSION = re.compile(r"^i-[0-9a-f]{8,17}$")

# kind -> (family, sensitivity or None to use the API's, clause template)
ITEM_KINDS: dict[str, tuple[str, float | None, str]] = {
    "api": ("api", None, "called {v} for the first time"),
    "svc": ("api", None, "used service {v} for the first time"),
    "region": ("region", 0.45, "acted in region {v} for the first time"),
    "ua": ("client", 0.25, "used a new kind of client ({v})"),
    "asn": ("source", 0.35, "called from a network it never used (ASN {v})"),
    "country": ("source", 0.5, "acted from {v}, a country it never acted from"),
    "err": ("error", 0.15, "got a new kind of error ({v})"),
    "assumed_by": ("trust", 0.6, "was assumed by {v} for the first time"),
    "seq": ("sequence", None, "enumerated {n} read APIs and then called {v} in the same session"),
    "recon": ("recon", 0.6, "was denied on {n} different APIs in one session ({v})"),
}

ESTATE_KINDS: dict[str, tuple[str, float, str]] = {
    "account": ("estate", 0.5, "acted in account {v}, which the estate never saw"),
    "region": ("estate", 0.5, "acted in region {v}, which this account never used"),
    "service": ("estate", 0.3, "used service {v}, which this account never used"),
    "principal": ("estate", 0.3, "is a principal this account never saw"),
}


@dataclass
class CloudConfig:
    learning_days: float = 7.0  # estate-wide learning period: nothing alerts before it ends
    window_days: int = 28  # rarity window (active days)
    grace_hours: float = 24.0  # a principal new after learning is judged mostly against its peers for this long
    min_score: float = 0.3  # incidents below this are learned silently
    incident_gap: float = 3600.0  # signals of one principal closer than this form one incident
    session_gap: float = 1800.0
    recluster_hours: float = 24.0
    max_items_per_entity: int = 4000
    max_entities: int = 100_000
    max_keys: int = 100_000
    max_sessions: int = 50_000
    max_api_rates: int = 50_000
    retention_days: float = 90.0
    recon_min_apis: int = 5
    enum_min_apis: int = 12
    sequence_min_sensitivity: float = 0.6
    rare_max_days: int = 2  # a sensitive API used on at most this many of the window's active days is "rare"
    travel_kmh: float = 1000.0
    concurrent_seconds: float = 3600.0


def principal_label(principal: str, principal_type: str = "") -> str:
    """'arn:aws:iam::1:role/deploy-ci' -> 'role deploy-ci'."""
    if principal.startswith("root:"):
        return f"root of account {principal[5:]}"
    if principal.startswith("service:"):
        return f"AWS service {principal[8:]}"
    m = re.match(r"^arn:aws[\w-]*:(?:iam|sts)::\d*:(user|role|assumed-role|federated-user)/(?:.*/)?([^/]+)$", principal)
    if m:
        kind = {"assumed-role": "role", "federated-user": "federated user"}.get(m.group(1), m.group(1))
        return f"{kind} {m.group(2)}"
    return principal


class Profile:
    """Everything remembered about one principal; bounded by `max_items_per_entity`."""

    __slots__ = (
        "account",
        "api_items",
        "days",
        "expected",
        "grace_until",
        "group",
        "group_checked",
        "items",
        "label",
        "logins",
        "name",
        "ptype",
        "rate",
    )

    def __init__(self, name: str, label: str, account: str, ptype: str, ts: float) -> None:
        self.name = name
        self.label = label
        self.account = account
        self.ptype = ptype
        self.items: dict[str, list[Any]] = {}
        self.days = new_record(ts)
        self.expected: set[str] = set()
        self.grace_until = 0.0
        self.group: int | None = None
        self.group_checked = -1  # api item count when the group was last estimated (new principals)
        self.api_items = 0
        self.rate = RateStat()
        self.logins: deque[tuple[float, str, str]] = deque(maxlen=8)

    def to_state(self) -> dict[str, Any]:
        return {
            "account": self.account, "label": self.label, "ptype": self.ptype, "items": self.items,
            "days": self.days, "expected": sorted(self.expected), "grace_until": self.grace_until,
            "group": self.group, "rate": [self.rate.bucket, self.rate.count, self.rate.errors, self.rate.fired,
                                          list(self.rate.history)],
            "logins": list(self.logins),
        }

    @classmethod
    def from_state(cls, name: str, d: dict[str, Any]) -> Profile:
        p = cls(name, d["label"], d["account"], d.get("ptype", ""), d["days"][0])
        p.items = {k: list(v) for k, v in d["items"].items()}
        p.days = list(d["days"])
        p.expected = set(d.get("expected", []))
        p.grace_until = float(d.get("grace_until", 0.0))
        p.group = d.get("group")
        p.api_items = sum(1 for k in p.items if k.startswith("api|"))
        bucket, count, errors, fired, hist = d["rate"]
        p.rate.bucket, p.rate.count, p.rate.errors, p.rate.fired = bucket, count, errors, fired
        p.rate.history.extend(tuple(h) for h in hist)
        p.rate._recompute()
        p.logins.extend(tuple(x) for x in d.get("logins", []))
        return p


@dataclass
class Session:
    last: float
    enum_apis: set[str] = field(default_factory=set)
    denied_apis: set[str] = field(default_factory=set)
    recon_fired: bool = False
    seq_fired: bool = False


class CloudBaseline:
    def __init__(self, config: CloudConfig | None = None, geo: GeoLookup | None = None) -> None:
        self.cfg = config or CloudConfig()
        self.geo: GeoLookup = geo or NoGeo()
        self.started: float | None = None
        self.now = 0.0
        self.events = 0
        self.profiles: OrderedDict[str, Profile] = OrderedDict()
        self.estate: dict[str, list[Any]] = {}
        self.keys: OrderedDict[str, dict[str, float]] = OrderedDict()
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.api_rates: OrderedDict[str, RateStat] = OrderedDict()
        self.groups: dict[str, int] = {}
        self.members: dict[int, list[str]] = {}
        self.clustered_at = 0.0
        self.silhouette: float | None = None
        self.open: dict[str, Incident] = {}
        self.closed: list[tuple[Alert, Incident]] = []
        self.suppressed = 0  # incidents learned silently (below min_score)
        self._last_hour = -1

    # ------------------------------------------------------------------ public
    @property
    def learning(self) -> bool:
        return self.started is None or self.now < self.started + self.cfg.learning_days * DAY

    def learning_ends(self) -> float | None:
        return None if self.started is None else self.started + self.cfg.learning_days * DAY

    def process(self, a: ApiActivity) -> None:
        ts = a.time.timestamp()
        if self.started is None:
            self.started = ts
        was_learning = self.learning
        self.now = max(self.now, ts)
        self.events += 1
        hour = hour_bucket(ts)
        if hour != self._last_hour:
            self._last_hour = hour
            self._hourly(ts, was_learning)
        learning = self.learning
        svc = short_service(a.service)
        api_key = f"{svc}:{a.api}"
        sens = sensitivity(a.service, a.api, a.read_only)
        info = self.geo.lookup(a.source_ip) if a.source_ip else IpInfo("", "")

        # estate: new account, region, service, principal
        new_principal = a.principal not in self.profiles
        self._estate(("account", a.account), ts, a, learning)
        self._estate(("region", a.account, a.region), ts, a, learning)
        self._estate(("service", a.account, svc), ts, a, learning)
        p = self._profile(a, ts, learning)
        if new_principal:
            self._estate(("principal", a.account, a.principal), ts, a, learning, p=p)
        if a.principal_type == "AWSService" or a.principal.startswith("service:"):
            return  # AWS acting on our behalf: only its estate footprint matters
        touch(p.days, ts)
        error = error_bucket(a.error_code)
        self._item(p, "api", api_key, sens, ts, a, learning)
        # a first write to a sensitive service matters more than a first look at it
        svc_weight = 0.6 if not (a.read_only or is_read_api(a.api)) else 0.3
        self._item(p, "svc", svc, max(0.15, sensitivity(a.service, "Put", False) * svc_weight), ts, a, learning)
        if a.region:
            self._item(p, "region", a.region, None, ts, a, learning)
        uaf = a.ua_family or ua_family(a.user_agent)
        self._item(p, "ua", uaf, 0.9 if uaf == "offensive" else None, ts, a, learning)
        if info.asn and info.asn not in ("private", "aws-service"):
            self._item(p, "asn", info.asn, None, ts, a, learning,
                       display=f"{info.asn}, {info.country}" if info.country else info.asn)
        if info.country:
            self._item(p, "country", info.country, None, ts, a, learning)
        if error:
            self._item(p, "err", f"{api_key}{SEP}{error}", None, ts, a, learning)
        if a.api.startswith("AssumeRole") and not error:  # AssumeRole, ...WithWebIdentity, ...WithSAML
            for target in self._assumed_roles(a):
                tp = self.profiles.get(target)
                if tp is None:
                    tp = self._new_profile(target, a.account, "AssumedRole", ts, learning)
                self._item(tp, "assumed_by", a.principal, None, ts, a, learning, subject=tp)
        self._instance_credentials(a, info, ts, learning)
        self._rates(p, a, api_key, sens, bool(error), ts, learning)
        self._session(p, a, api_key, sens, error, ts, learning)
        if a.api == "ConsoleLogin":
            self._console_login(p, a, info, ts, learning)

    def flush(self) -> list[tuple[Alert, Incident]]:
        """Close every open incident and return the alerts raised since the last flush."""
        self._close_quiet(None)
        out, self.closed = self.closed, []
        return out

    def _close_quiet(self, until: float | None) -> None:
        for entity in list(self.open):
            inc = self.open[entity]
            if until is None or inc.last < until - self.cfg.incident_gap:
                del self.open[entity]
                self._close(inc)

    def teach(self, entity: str, items: list[str], scope: str = "entity") -> int:
        """Mark behaviour as expected for the principal, or for every member of its peer group."""
        p = self.profiles.get(entity)
        if p is None:
            return 0
        targets = [p]
        if scope == "group" and p.group is not None:
            targets = [self.profiles[m] for m in self.members.get(p.group, []) if m in self.profiles] or [p]
        for t in targets:
            for item in items:
                t.expected.add(item)
                if item not in t.items:
                    t.items[item] = new_record(self.now or 0.0)
        return len(targets)

    def recluster(self, vectors: dict[str, dict[str, float]] | None = None) -> None:
        """Group principals by their API usage; `vectors` may come from the lake (`ibis_views`) at scale."""
        if vectors is None:
            vectors = {
                name: {k[4:]: float(v[3]) for k, v in p.items.items() if k.startswith("api|")}
                for name, p in self.profiles.items()
                if p.ptype != "AWSService" and not name.startswith("service:")
            }
        else:
            vectors = {n: v for n, v in vectors.items() if not n.startswith("service:")}
        self.groups = peer_mod.cluster(vectors)
        self.silhouette = peer_mod.quality(vectors, self.groups)
        self.members = {}
        for name, g in sorted(self.groups.items()):
            self.members.setdefault(g, []).append(name)
        for name, p in self.profiles.items():
            p.group = self.groups.get(name)
            p.group_checked = p.api_items
        self.clustered_at = self.now

    def status(self) -> dict[str, Any]:
        return {
            "learning": self.learning,
            "learning_ends": self.learning_ends(),
            "events": self.events,
            "principals": len(self.profiles),
            "groups": len(self.members),
            "silhouette": None if self.silhouette is None else round(self.silhouette, 3),
            "items": sum(len(p.items) for p in self.profiles.values()) + len(self.estate),
            "access_keys": len(self.keys),
            "sessions": len(self.sessions),
            "api_rates": len(self.api_rates),
        }

    # ------------------------------------------------------------------ internals
    def _hourly(self, ts: float, was_learning: bool) -> None:
        """Once per event-hour: recluster when due, expire old items, enforce caps."""
        ends = self.learning_ends()
        due = ends is not None and ts >= ends and (
            not self.members or ts - self.clustered_at >= self.cfg.recluster_hours * 3600
        )
        if due:
            self.recluster()
        if int(ts // 3600) % 24 == 0:
            self._expire(ts)
        self._close_quiet(ts)  # incidents that went quiet become alerts (kept until flush)

    def _expire(self, ts: float) -> None:
        cutoff = ts - self.cfg.retention_days * DAY
        for name in list(self.profiles):
            p = self.profiles[name]
            if p.days[1] < cutoff:
                del self.profiles[name]
                continue
            stale = [k for k, v in p.items.items() if v[1] < cutoff and k not in p.expected]
            for k in stale:
                del p.items[k]
        for k in [k for k, v in self.estate.items() if v[1] < cutoff]:
            del self.estate[k]

    def _profile(self, a: ApiActivity, ts: float, learning: bool) -> Profile:
        p = self.profiles.get(a.principal)
        if p is None:
            return self._new_profile(a.principal, a.account, a.principal_type, ts, learning)
        self.profiles.move_to_end(a.principal)
        return p

    def _new_profile(self, name: str, account: str, ptype: str, ts: float, learning: bool) -> Profile:
        p = Profile(name, principal_label(name, ptype), account, ptype, ts)
        if not learning:
            p.grace_until = ts + self.cfg.grace_hours * 3600
        self.profiles[name] = p
        while len(self.profiles) > self.cfg.max_entities:
            self.profiles.popitem(last=False)
        return p

    def _estate(self, key: tuple[str, ...], ts: float, a: ApiActivity, learning: bool, p: Profile | None = None) -> None:
        k = SEP.join(key)
        rec = self.estate.get(k)
        if rec is not None:
            if ts > rec[1]:
                rec[1] = ts
            return
        self.estate[k] = [ts, ts, 0, 1]
        if learning or a.principal.startswith("service:"):
            return
        family, sens, text = ESTATE_KINDS[key[0]]
        value = key[-1]
        if key[0] == "principal":
            value = principal_label(value)
        self._signal(
            a, Signal(family, f"first-seen:estate-{key[0]}", ("estate", *key), sens, 1.0,
                      text.format(v=value), ts, a.event_id, baseline=f"{key[0]}s seen so far in the estate"),
            p=p,
        )

    def _peer_counts(self, p: Profile, item: str) -> tuple[int, int]:
        group = p.group
        if group is None and self.members:
            group = self._estimate_group(p)
        if group is None:
            return 0, 0
        others = [m for m in self.members.get(group, []) if m != p.name]
        with_it = 0
        for m in others:
            mp = self.profiles.get(m)
            if mp is not None and (item in mp.items or item in mp.expected):
                with_it += 1
        return with_it, len(others)

    def _estimate_group(self, p: Profile) -> int | None:
        """A principal born after clustering joins the group it most resembles (re-estimated as it grows)."""
        if p.api_items >= max(3, int(p.group_checked * 1.25) + 1) or p.group_checked < 0:
            vec = {k[4:]: float(v[3]) for k, v in p.items.items() if k.startswith("api|")}
            vectors = {m: {k[4:]: float(v[3]) for k, v in self.profiles[m].items.items() if k.startswith("api|")}
                       for ms in self.members.values() for m in ms if m in self.profiles and m != p.name}
            group, sim = peer_mod.nearest(vec, vectors, self.groups)
            p.group = group if sim >= 0.3 else None
            p.group_checked = p.api_items
        return p.group

    def _item(
        self,
        p: Profile,
        kind: str,
        value: str,
        sens: float | None,
        ts: float,
        a: ApiActivity,
        learning: bool,
        display: str = "",
        subject: Profile | None = None,
    ) -> None:
        key = f"{kind}{SEP}{value}"
        written_before = False
        if kind == "api" and not a.error_code and not (a.read_only or is_read_api(a.api)):
            # writing to a service it already writes to is less surprising than a first write there
            wkey = f"wsvc{SEP}{value.split(':', 1)[0]}"
            written_before = wkey in p.items
            if written_before:
                touch(p.items[wkey], ts)
            else:
                p.items[wkey] = new_record(ts)
        rec = p.items.get(key)
        if rec is not None:
            if (kind == "api" and not learning and sens is not None and sens >= 0.6 and key not in p.expected
                    and epoch_day_of(rec[1]) != epoch_day_of(ts)):
                self._rarity(p, key, value, rec, sens, ts, a)  # before touching: judged on the days before today
            touch(rec, ts)
            return
        p.items[key] = new_record(ts)
        if kind == "api":
            p.api_items += 1
        if len(p.items) > self.cfg.max_items_per_entity:
            self._evict(p)
        if learning or key in p.expected:
            return
        family, default_sens, template = ITEM_KINDS[kind]
        s = sens if sens is not None else (default_sens if default_sens is not None else 0.3)
        with_it, total = self._peer_counts(p, key)
        strength = 1.0
        clause = template.format(v=(display or value).replace(SEP, " → "), n="")
        if total:
            strength *= max(0.0, 1.0 - 2.0 * with_it / total)
            if with_it == 0:
                clause += f"; none of its {total} peer{'s' if total > 1 else ''} ever {'has' if total > 1 else 'did'}"
            else:
                clause += f"; {with_it} of its {total} peers have"
        if ts < p.grace_until:
            strength *= 0.5
        if kind == "api" and written_before:
            strength *= 0.5
            clause += f" (it already makes other {value.split(':', 1)[0]} changes)"
        if strength <= 0.0:
            return
        self._signal(
            a, Signal(family, f"first-seen:principal-{kind}", (kind, value), s, strength, clause, ts, a.event_id,
                      peers=total, peers_with=with_it, baseline=f"{self._count_kind(p, kind) - 1} known {kind} values"),
            p=subject or p,
        )

    def _count_kind(self, p: Profile, kind: str) -> int:
        prefix = kind + SEP
        return sum(1 for k in p.items if k.startswith(prefix))

    def _rarity(self, p: Profile, key: str, value: str, rec: list[Any], sens: float, ts: float, a: ApiActivity) -> None:
        """A sensitive API this principal uses on very few of its active days (GuardDuty's 'rare')."""
        used = active_days(rec, ts, self.cfg.window_days)
        total = active_days(p.days, ts, self.cfg.window_days)
        if total < 7 or used > self.cfg.rare_max_days:
            return
        rarity = -math.log((used + 1) / (total + 2)) / -math.log(1 / (total + 2))
        with_it, peers = self._peer_counts(p, key)
        strength = 0.5 * rarity * (max(0.0, 1.0 - 2.0 * with_it / peers) if peers else 1.0)
        if strength <= 0.05:
            return
        self._signal(
            a, Signal("api", "rarity:principal-api", ("api", value), sens, strength,
                      f"called {value}, which it used on only {used} of its {total} active days in {self.cfg.window_days} days",
                      ts, a.event_id, peers=peers, peers_with=with_it, baseline=f"{used}/{total} active days"),
            p=p,
        )

    def _evict(self, p: Profile) -> None:
        """Drop the least recently seen tenth of an entity's items (taught items are kept)."""
        victims = sorted((v[1], k) for k, v in p.items.items() if k not in p.expected)
        for _, k in victims[: max(1, len(p.items) // 10)]:
            if k.startswith("api|"):
                p.api_items -= 1
            del p.items[k]

    def _assumed_roles(self, a: ApiActivity) -> list[str]:
        roles = [r for r in a.resources if ":role/" in r]
        if roles or not a.raw:
            return roles
        try:
            raw = orjson.loads(a.raw)
            arn = (raw.get("requestParameters") or {}).get("roleArn")
            return [arn] if isinstance(arn, str) else []
        except (orjson.JSONDecodeError, AttributeError):
            return []

    def _instance_credentials(self, a: ApiActivity, info: IpInfo, ts: float, learning: bool) -> None:
        """Netflix: temporary credentials of an EC2 instance role used from an address they were never used from."""
        key = a.access_key_id
        if not key or not _INSTANCE_SESSION.match(a.session_name or "") or info.asn in ("private", "aws-service"):
            return
        if not a.source_ip:
            return
        ips = self.keys.get(key)
        if ips is None:
            self.keys[key] = {a.source_ip: ts}  # first use teaches where this credential lives
            while len(self.keys) > self.cfg.max_keys:
                self.keys.popitem(last=False)
            return
        self.keys.move_to_end(key)
        if a.source_ip in ips:
            return
        if len(ips) < 8:
            ips[a.source_ip] = ts
        if learning:
            return
        inside_aws = info.asn.upper().startswith("AMAZON")
        p = self.profiles[a.principal]
        where = f"{a.source_ip} ({info.asn or 'unknown network'}{', ' + info.country if info.country else ''})"
        self._signal(
            a, Signal("credential", "credential:instance-key-new-ip", ("key_ip", key, a.source_ip),
                      0.95, 0.6 if inside_aws else 1.0,
                      f"had the instance credentials of {a.session_name} used from {where}, "
                      f"{'inside' if inside_aws else 'outside'} AWS, not from the instance's address",
                      ts, a.event_id, baseline=", ".join(sorted(ips)[:3])),
            p=p,
        )

    def _rates(self, p: Profile, a: ApiActivity, api_key: str, sens: float, error: bool, ts: float, learning: bool) -> None:
        bucket = hour_bucket(ts)
        r = p.rate
        r.add(bucket, error)
        if not learning:
            if r.threshold is not None and not r.fired & 1 and r.count >= r.threshold and "rate|calls" not in p.expected:
                r.fired |= 1
                z = r.zscore(r.count)
                self._signal(a, Signal("rate", "rate:principal-calls", ("rate", "calls"), 0.4, min(1.0, 0.5 + z / 40),
                                       f"made {r.count} calls in one hour (usual busy hour: {_median(r.history, 0):.0f})",
                                       ts, a.event_id, baseline=f"median {_median(r.history, 0):.0f} calls/active hour"), p=p)
            if error and r.err_threshold is not None and not r.fired & 2 and r.errors >= r.err_threshold \
                    and "rate|errors" not in p.expected:
                r.fired |= 2
                self._signal(a, Signal("error", "rate:principal-errors", ("rate", "errors"), 0.4, 0.8,
                                       f"got {r.errors} errors in one hour (usual: {_median(r.history, 1):.0f})",
                                       ts, a.event_id, baseline=f"median {_median(r.history, 1):.0f} errors/active hour"), p=p)
        if a.read_only or is_read_api(a.api):
            return
        akey = f"{a.account}{SEP}{a.region}{SEP}{api_key}"
        ar = self.api_rates.get(akey)
        if ar is None:
            ar = self.api_rates[akey] = RateStat()
            while len(self.api_rates) > self.cfg.max_api_rates:
                self.api_rates.popitem(last=False)
        else:
            self.api_rates.move_to_end(akey)
        ar.add(bucket, error)
        if not learning and ar.threshold is not None and not ar.fired & 1 and ar.count >= ar.threshold:
            ar.fired |= 1
            self._signal(a, Signal("rate", "rate:api-calls", ("api_rate", api_key), max(0.4, sens), 0.8,
                                   f"was behind a burst of {ar.count} {api_key} calls in {a.region} within an hour "
                                   f"(usual busy hour: {_median(ar.history, 0):.0f})", ts, a.event_id,
                                   baseline=f"median {_median(ar.history, 0):.0f}/active hour"), p=p)

    def _session(self, p: Profile, a: ApiActivity, api_key: str, sens: float, error: str, ts: float, learning: bool) -> None:
        sid = f"{a.principal}{SEP}{a.access_key_id or a.session_name or a.source_ip}"
        s = self.sessions.get(sid)
        if s is None or ts - s.last > self.cfg.session_gap:
            s = self.sessions[sid] = Session(ts)
            while len(self.sessions) > self.cfg.max_sessions:
                self.sessions.popitem(last=False)
        else:
            self.sessions.move_to_end(sid)
        s.last = ts
        if error == "AccessDenied" and len(s.denied_apis) < 256:
            s.denied_apis.add(api_key)
            if not s.recon_fired and len(s.denied_apis) >= self.cfg.recon_min_apis:
                s.recon_fired = True
                self._pattern(p, a, "recon", "burst", 0.6, min(1.0, len(s.denied_apis) / 10),
                              f"was denied on {len(s.denied_apis)} different APIs in one session "
                              f"({', '.join(sorted(s.denied_apis)[:4])}…)", ts, learning)
        elif not error and is_enumeration_api(a.api):
            if len(s.enum_apis) < 256:
                s.enum_apis.add(api_key)
        elif not error and not is_read_api(a.api) and sens >= self.cfg.sequence_min_sensitivity \
                and len(s.enum_apis) >= self.cfg.enum_min_apis and not s.seq_fired:
            s.seq_fired = True
            self._pattern(p, a, "seq", api_key, sens, 0.8,
                          f"enumerated {len(s.enum_apis)} read APIs and then called {api_key} in the same session",
                          ts, learning)

    def _pattern(self, p: Profile, a: ApiActivity, kind: str, value: str, sens: float, strength: float,
                 text: str, ts: float, learning: bool) -> None:
        """Session patterns are judged like items: a principal that routinely does this is not alerted."""
        key = f"{kind}{SEP}{value}"
        known = key in p.items or key in p.expected
        if key in p.items:
            touch(p.items[key], ts)
        else:
            p.items[key] = new_record(ts)
        if learning or known:
            return
        with_it, total = self._peer_counts(p, key)
        if total:
            strength *= max(0.0, 1.0 - 2.0 * with_it / total)
        if strength > 0:
            self._signal(a, Signal(ITEM_KINDS[kind][0], f"session:{kind}", (kind, value), sens, strength, text, ts,
                                   a.event_id, peers=total, peers_with=with_it), p=p)

    def _console_login(self, p: Profile, a: ApiActivity, info: IpInfo, ts: float, learning: bool) -> None:
        failed = bool(a.error_code or a.error_message) or '"ConsoleLogin":"Failure"' in a.raw.replace(" ", "")
        if failed or not info.country:
            return
        for prev_ts, prev_cc, prev_ip in reversed(p.logins):
            if prev_cc == info.country or ts - prev_ts > DAY:
                continue
            dist = distance_km(prev_cc, info.country)
            hours = max((ts - prev_ts) / 3600.0, 1 / 60)
            if ts - prev_ts <= self.cfg.concurrent_seconds and not learning:
                self._signal(a, Signal("geo", "geo:concurrent-logins", ("login_countries", prev_cc, info.country), 0.6, 1.0,
                                       f"signed in to the console from {info.country} ({a.source_ip}) "
                                       f"{(ts - prev_ts) / 60:.0f} min after a sign-in from {prev_cc} ({prev_ip})",
                                       ts, a.event_id), p=p)
                break
            if dist is not None and dist >= 500 and dist / hours > self.cfg.travel_kmh and not learning:
                self._signal(a, Signal("geo", "geo:impossible-travel", ("login_countries", prev_cc, info.country), 0.7, 1.0,
                                       f"signed in from {info.country} {hours:.1f} h after signing in from {prev_cc}: "
                                       f"{dist:.0f} km at {dist / hours:.0f} km/h", ts, a.event_id), p=p)
                break
        p.logins.append((ts, info.country, a.source_ip))

    def _signal(self, a: ApiActivity, sig: Signal, p: Profile | None = None) -> None:
        entity = p.name if p is not None else a.principal
        inc = self.open.get(entity)
        if inc is not None and sig.time - inc.last > self.cfg.incident_gap:
            del self.open[entity]
            self._close(inc)
            inc = None
        if inc is None:
            label = p.label if p is not None else principal_label(a.principal)
            group = p.group if p is not None else None
            size = len(self.members.get(group, [])) if group is not None else 0
            inc = self.open[entity] = Incident(
                "baseline-cloud", entity, label, account=a.account, region=a.region,
                group=f"peers-{group}" if group is not None else "", group_size=size,
            )
        inc.signals.append(sig)
        if a.event_id and len(inc.event_ids) < 1000:
            inc.event_ids.append(a.event_id)

    def _close(self, inc: Incident) -> None:
        value = score(inc.signals)
        if value < self.cfg.min_score:
            self.suppressed += 1
            return
        self.closed.append((to_alert(inc, value, int(self.cfg.incident_gap)), inc))

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        return {
            "config": self.cfg.__dict__,
            "started": self.started, "now": self.now, "events": self.events,
            "profiles": {n: p.to_state() for n, p in self.profiles.items()},
            "estate": self.estate,
            "keys": dict(self.keys),
            "groups": self.groups, "clustered_at": self.clustered_at,
            "api_rates": {k: [r.bucket, r.count, r.errors, r.fired, list(r.history)] for k, r in self.api_rates.items()},
            "suppressed": self.suppressed, "silhouette": self.silhouette,
        }

    @classmethod
    def from_state(cls, d: dict[str, Any], geo: GeoLookup | None = None, config: CloudConfig | None = None) -> CloudBaseline:
        cfg = config or CloudConfig(**{k: v for k, v in d.get("config", {}).items() if k in CloudConfig.__dataclass_fields__})
        b = cls(cfg, geo)
        b.started, b.now, b.events = d["started"], d["now"], d["events"]
        for n, pd in d["profiles"].items():
            b.profiles[n] = Profile.from_state(n, pd)
        b.estate = {k: list(v) for k, v in d["estate"].items()}
        b.keys = OrderedDict((k, dict(v)) for k, v in d["keys"].items())
        b.groups = {k: int(v) for k, v in d["groups"].items()}
        for name, g in sorted(b.groups.items()):
            b.members.setdefault(g, []).append(name)
        b.clustered_at = d["clustered_at"]
        for k, (bucket, count, errors, fired, hist) in d["api_rates"].items():
            r = RateStat()
            r.bucket, r.count, r.errors, r.fired = bucket, count, errors, fired
            r.history.extend(tuple(h) for h in hist)
            r._recompute()
            b.api_rates[k] = r
        b.suppressed = d.get("suppressed", 0)
        b.silhouette = d.get("silhouette")
        b._last_hour = hour_bucket(b.now) if b.now else -1
        return b


def epoch_day_of(ts: float) -> int:
    return int(ts // DAY)


def _median(history: deque[tuple[int, int]], idx: int) -> float:
    vals = sorted(h[idx] for h in history)
    return float(vals[len(vals) // 2]) if vals else 0.0
