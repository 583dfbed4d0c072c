"""Enrolled host agents: identity, token hash, health, and the per-spool high-water mark of ingest.

Tokens are random (`cwa_` + 32 bytes urlsafe) and stored only as SHA-256 hashes; a revoked agent's
token stops working immediately. `spool_marks` holds, per agent and spool, the highest spool sequence
already stored, which makes ingest idempotent when an agent resends a batch whose answer it never got.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Boolean, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from cloudwarden.errors import AuthError
from cloudwarden.store.state import Base, StateStore

TOKEN_PREFIX = "cwa_"  # noqa: S105 - a prefix, not a secret


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentRow(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    hostname: Mapped[str] = mapped_column(String(255), default="")
    host_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    events_received: Mapped[int] = mapped_column(Integer, default=0)
    health_json: Mapped[str] = mapped_column(Text, default="{}")
    host_json: Mapped[str] = mapped_column(Text, default="{}")


class SpoolMarkRow(Base):
    __tablename__ = "agent_spool_marks"
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    spool_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    high_seq: Mapped[int] = mapped_column(Integer, default=0)


@dataclass
class AgentInfo:
    id: str
    name: str
    hostname: str
    host_id: str
    created: datetime
    last_seen: datetime | None
    revoked: bool
    events_received: int
    health: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> Any:
        return self.health.get("sources", {})


def _info(r: AgentRow) -> AgentInfo:
    return AgentInfo(
        id=r.id, name=r.name, hostname=r.hostname, host_id=r.host_id, created=_aware(r.created) or _now(),
        last_seen=_aware(r.last_seen), revoked=r.revoked, events_received=r.events_received,
        health=orjson.loads(r.health_json or "{}"), host=orjson.loads(r.host_json or "{}"),
    )


class AgentStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    def enroll(self, name: str, hostname: str = "", host_id: str = "") -> tuple[AgentInfo, str]:
        """A new agent and its token (shown once)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = AgentRow(id=uuid.uuid4().hex, name=name[:255], hostname=hostname[:255], host_id=host_id[:128],
                       token_hash=hash_token(token), created=_now())
        with self.state.session() as s:
            s.add(row)
            s.flush()
            info = _info(row)
        return info, token

    def authenticate(self, token: str) -> AgentInfo:
        if not token.startswith(TOKEN_PREFIX):
            raise AuthError("not an agent token")
        h = hash_token(token)
        with self.state.session() as s:
            row = s.execute(select(AgentRow).where(AgentRow.token_hash == h)).scalar_one_or_none()
            if row is None or not hmac.compare_digest(row.token_hash, h):
                raise AuthError("unknown agent token")
            if row.revoked:
                raise AuthError(f"agent {row.id} is revoked")
            return _info(row)

    def list(self) -> list[AgentInfo]:
        with self.state.session() as s:
            return [_info(r) for r in s.execute(select(AgentRow).order_by(AgentRow.created)).scalars()]

    def get(self, agent_id: str) -> AgentInfo | None:
        with self.state.session() as s:
            row = s.get(AgentRow, agent_id)
            return _info(row) if row else None

    def revoke(self, agent_id: str) -> AgentInfo | None:
        with self.state.session() as s:
            row = s.get(AgentRow, agent_id)
            if row is None:
                return None
            row.revoked = True
            row.revoked_at = _now()
            s.flush()
            return _info(row)

    def high_seq(self, agent_id: str, spool_id: str) -> int:
        with self.state.session() as s:
            row = s.get(SpoolMarkRow, (agent_id, spool_id))
            return row.high_seq if row else 0

    def record_ingest(self, agent_id: str, spool_id: str, high_seq: int, n_events: int,
                      health: dict[str, Any], host: dict[str, Any]) -> None:
        """After a batch is stored: advance the spool mark, count, and refresh last-seen/health/host."""
        with self.state.session() as s:
            mark = s.get(SpoolMarkRow, (agent_id, spool_id))
            if mark is None:
                s.add(SpoolMarkRow(agent_id=agent_id, spool_id=spool_id, high_seq=high_seq))
            elif high_seq > mark.high_seq:
                mark.high_seq = high_seq
            row = s.get(AgentRow, agent_id)
            if row is not None:
                row.last_seen = _now()
                row.events_received = (row.events_received or 0) + n_events
                row.health_json = orjson.dumps(health).decode()[:65536]
                if host:
                    row.host_json = orjson.dumps(host).decode()[:65536]
                    row.hostname = str(host.get("hostname", row.hostname))[:255]
                    row.host_id = str(host.get("host_id", row.host_id))[:128]
