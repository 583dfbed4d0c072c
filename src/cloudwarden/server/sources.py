"""The server's view of the other subsystems (alert store, lake, rules, reports, runner).

Each is imported lazily and wrapped, so a subsystem that is missing or broken makes its pages and
endpoints answer 503 with the reason instead of taking the whole server down.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import inspect
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cloudwarden.detect.grouping import WindowSpec
from cloudwarden.errors import CloudwardenError
from cloudwarden.store.state import StateStore

log = logging.getLogger("cloudwarden.server")


class Unavailable(CloudwardenError):
    """A subsystem the request needs is not installed or failed to load."""


def load(module: str, attr: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:
        raise Unavailable(f"{module} is not available ({type(exc).__name__}: {exc})", source=module) from exc
    try:
        return getattr(mod, attr)
    except AttributeError as exc:
        raise Unavailable(f"{module}.{attr} is missing", source=module) from exc


def to_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out = dict(obj)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    elif hasattr(obj, "__dict__"):
        out = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    else:
        out = {"value": obj}
    return {k: jsonable(v) for k, v in out.items()}


def jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, list | tuple | set):
        return [jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return to_dict(v)
    if hasattr(v, "value") and type(v).__module__ != "builtins" and isinstance(getattr(v, "value", None), str):
        return v.value
    return v


def call_flex(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call with only the keyword arguments the function accepts (the other side's signature may be narrower)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(**kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(**kwargs)
    return fn(**{k: v for k, v in kwargs.items() if k in params})


def alert_filters(status: str | None, severity: str | None, source: str | None, q: str | None,
                  entity: str | None = None, rule_id: str | None = None, account: str | None = None) -> dict[str, Any]:
    """The dashboard's and the API's alert filters as `AlertStore.list/count/summary` take them (empty ones
    left out)."""
    named = {"status": status, "min_severity": severity, "source": source, "text": q, "entity": entity,
             "rule_id": rule_id, "account": account}
    return {k: v for k, v in named.items() if v}


class Alerts:
    """Adapter over `cloudwarden.detect.alert_store.AlertStore` (owned by the detection helper)."""

    STATUSES = ("new", "acknowledged", "resolved")

    def __init__(self, state: StateStore, window: WindowSpec | None = None) -> None:
        self.state = state
        self.window = window  # the grouping window (None: the store's default)
        self._store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            cls = load("cloudwarden.detect.alert_store", "AlertStore")
            self._store = cls(self.state, window=self.window)
        return self._store

    def add(self, alerts: list[Any]) -> list[int]:
        return list(self.store.add(alerts))

    def add_each(self, alerts: list[Any]) -> list[int | None]:
        """Per input alert: the stored alert's id, None when suppressed."""
        return list(self.store.add_each(alerts))

    def list(self, *, limit: int, offset: int, status: str | None = None, severity: str | None = None, source: str | None = None,
             q: str | None = None, entity: str | None = None, rule_id: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
        f = alert_filters(status, severity, source, q, entity, rule_id)
        return self._worst_first(f, limit, offset), self._count(f)

    def _worst_first(self, f: dict[str, Any], limit: int, offset: int) -> builtins.list[dict[str, Any]]:
        """The triage order across pages: severity, then newest, then id (stable)."""
        return [_alert_dict(a) for a in self.store.list(limit=limit, offset=offset, order="severity", **f)]

    def _count(self, f: dict[str, Any]) -> int:
        return int(self.store.count(**f))

    def summary(self, by: str, *, limit: int, status: str | None = None, severity: str | None = None,
                source: str | None = None, q: str | None = None) -> builtins.list[dict[str, Any]]:
        f = alert_filters(status, severity, source, q)
        return [{k: jsonable(v) for k, v in row.items()} for row in self.store.summary(by, limit=limit, **f)]

    def count_changing(self, status: str, **filters: Any) -> int:
        """How many alerts the filters select that are not in `status` yet (what bulk triage would change)."""
        return int(self.store.count_changing(status, **filters))

    def set_status_matching(self, status: str, *, user: str, comment: str = "", **filters: Any) -> int:
        return int(self.store.set_status_matching(status, user, comment, **filters))

    def counts(self, **kw: Any) -> dict[str, int]:
        return dict(self.store.counts_by_severity(**kw))

    def get(self, alert_id: int) -> dict[str, Any] | None:
        a = self.store.get(alert_id)
        return _alert_dict(a) if a is not None else None

    def action(self, name: str, alert_id: int, *, user: str, reason: str = "", until: datetime | None = None,
               text: str = "", assignee: str = "") -> None:
        st = self.store
        if name == "ack":
            st.ack(alert_id, user, text)
        elif name == "resolve":
            st.resolve(alert_id, user, text)
        elif name == "comment":
            st.comment(alert_id, user, text)
        elif name == "assign":
            st.assign(alert_id, assignee, user)
        elif name == "suppress":
            # Suppression is by rule and entity (future alerts like this one); the alert itself is resolved
            # with the reason so the queue empties.
            a = st.get(alert_id)
            if a is None:
                return
            st.suppress(reason=reason, created_by=user, rule_id=a.rule_id, entity=a.entity, account=a.account, expires_at=until)
            until_text = f" until {until.isoformat(timespec='minutes')}" if until else ""
            st.resolve(alert_id, user, f"suppressed{until_text}: {reason}")
        else:
            raise Unavailable(f"unknown alert action {name!r}")

    def suppressions(self) -> builtins.list[dict[str, Any]]:
        return [to_dict(x) for x in self.store.suppressions()]


def _alert_dict(a: Any) -> dict[str, Any]:
    d = a.to_dict() if hasattr(a, "to_dict") else to_dict(a)
    return {k: jsonable(v) for k, v in d.items()}


class LakeView:
    """Adapter over `cloudwarden.store.lake.Lake` (owned by the CloudTrail helper)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lake: Any = None

    @property
    def lake(self) -> Any:
        if self._lake is None:
            cls = load("cloudwarden.store.lake", "Lake")
            self._lake = cls(self.root)
        return self._lake

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        try:
            return list(self.lake.query(sql, params or []))
        except Unavailable:
            raise
        except Exception as exc:
            msg = str(exc)
            if "does not exist" in msg or "No files found" in msg or "not found" in msg.lower():
                return []
            raise
