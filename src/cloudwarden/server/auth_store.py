"""Users, browser sessions, API tokens and the audit log, in the state database.

Passwords are argon2id hashes. Session ids and API tokens are high-entropy random strings, so the
database keeps only their SHA-256 (a leaked database cannot be replayed as a login). Agent tokens are
not here: they belong to the host helper's `server/agent_store.py` and are revoked separately.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, Integer, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from cloudwarden.errors import AuthError, InputError
from cloudwarden.store.state import Base, StateStore

ROLES = ("viewer", "analyst", "admin")  # ordered: each role can do everything the previous can
_hasher = PasswordHasher()
TOKEN_PREFIX = "cwt_"  # noqa: S105 - a public prefix that makes leaked tokens recognisable


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class UserRow(Base):
    __tablename__ = "cw_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SessionRow(Base):
    __tablename__ = "cw_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ApiTokenRow(Base):
    __tablename__ = "cw_api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRow(Base):
    __tablename__ = "cw_audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime, index=True)
    username: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(64), default="")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    disabled: bool = False


@dataclass(frozen=True)
class SessionInfo:
    user: User
    csrf: str


def _user(row: UserRow) -> User:
    return User(row.id, row.username, row.role, row.disabled)


class AuthStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    # users ------------------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: str) -> User:
        username = username.strip()
        if not username or len(username) > 128:
            raise InputError("user name must be 1-128 characters", source="username")
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}", source="role")
        if len(password) < 10:
            raise InputError("password must be at least 10 characters", source="password")
        with self.state.session() as s:
            if s.scalar(select(UserRow).where(UserRow.username == username)):
                raise InputError(f"user {username!r} already exists", source="username")
            row = UserRow(username=username, password_hash=_hasher.hash(password), role=role, disabled=False, created_at=now())
            s.add(row)
            s.flush()
            return _user(row)

    def list_users(self) -> list[User]:
        with self.state.session() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def get_user(self, username: str) -> User | None:
        with self.state.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            return _user(row) if row else None

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 10:
            raise InputError("password must be at least 10 characters", source="password")
        with self.state.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                raise InputError(f"no user {username!r}", source="username")
            row.password_hash = _hasher.hash(password)
            # a password change ends every open session of that user
            s.execute(delete(SessionRow).where(SessionRow.user_id == row.id))

    def set_role(self, username: str, role: str) -> None:
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}", source="role")
        with self.state.session() as s:
            s.execute(update(UserRow).where(UserRow.username == username).values(role=role))

    def set_disabled(self, username: str, disabled: bool) -> None:
        with self.state.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                raise InputError(f"no user {username!r}", source="username")
            row.disabled = disabled
            if disabled:
                s.execute(delete(SessionRow).where(SessionRow.user_id == row.id))

    def verify_password(self, username: str, password: str) -> User:
        with self.state.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                _hasher.hash(password)  # same cost as a real check, so timing does not reveal user names
                raise AuthError("invalid user name or password")
            try:
                _hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError) as exc:
                raise AuthError("invalid user name or password") from exc
            if row.disabled:
                raise AuthError("invalid user name or password")
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            return _user(row)

    # sessions ---------------------------------------------------------------------------------------
    def create_session(self, user: User, hours: int) -> tuple[str, str]:
        """Returns (session id for the cookie, csrf token)."""
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        with self.state.session() as s:
            s.add(SessionRow(id_hash=sha256(sid), user_id=user.id, csrf=csrf, created_at=now(), expires_at=now() + timedelta(hours=hours)))
        return sid, csrf

    def session_user(self, sid: str) -> SessionInfo | None:
        with self.state.session() as s:
            row = s.get(SessionRow, sha256(sid))
            if row is None or row.expires_at < now():
                return None
            user = s.get(UserRow, row.user_id)
            if user is None or user.disabled:
                return None
            return SessionInfo(_user(user), row.csrf)

    def end_session(self, sid: str) -> None:
        with self.state.session() as s:
            s.execute(delete(SessionRow).where(SessionRow.id_hash == sha256(sid)))

    # API tokens -------------------------------------------------------------------------------------
    def create_token(self, username: str, name: str) -> str:
        """Returns the token once; only its hash is stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.state.session() as s:
            user = s.scalar(select(UserRow).where(UserRow.username == username))
            if user is None:
                raise InputError(f"no user {username!r}", source="username")
            s.add(ApiTokenRow(user_id=user.id, name=name[:128] or "token", token_hash=sha256(token), prefix=token[:10], created_at=now(), revoked=False))
        return token

    def token_user(self, token: str) -> User | None:
        with self.state.session() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == sha256(token), ApiTokenRow.revoked.is_(False)))
            if row is None:
                return None
            user = s.get(UserRow, row.user_id)
            if user is None or user.disabled:
                return None
            row.last_used_at = now()
            return _user(user)

    def list_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        with self.state.session() as s:
            q = select(ApiTokenRow, UserRow.username).join(UserRow, UserRow.id == ApiTokenRow.user_id).order_by(ApiTokenRow.id)
            if username:
                q = q.where(UserRow.username == username)
            return [
                {"id": t.id, "user": u, "name": t.name, "prefix": t.prefix, "created_at": t.created_at.isoformat(),
                 "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None, "revoked": t.revoked}
                for t, u in s.execute(q)
            ]

    def revoke_token(self, token_id: int) -> bool:
        with self.state.session() as s:
            res = s.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(revoked=True))
            return bool(getattr(res, "rowcount", 0))

    # audit ------------------------------------------------------------------------------------------
    def audit(self, username: str, action: str, target: str = "", detail: str = "", client: str = "") -> None:
        with self.state.session() as s:
            s.add(AuditRow(time=now(), username=username, action=action, target=target[:512], detail=detail[:4000], client=client[:64]))

    def audit_log(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        with self.state.session() as s:
            rows = s.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit).offset(offset))
            return [{"id": r.id, "time": r.time.isoformat(), "user": r.username, "action": r.action,
                     "target": r.target, "detail": r.detail, "client": r.client} for r in rows]


def generate_password() -> str:
    return secrets.token_urlsafe(15)
