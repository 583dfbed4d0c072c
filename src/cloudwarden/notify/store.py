"""Notification channels added from the dashboard (channels in cloudwarden.toml are read-only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from cloudwarden.notify.routing import ChannelConfig, channel_from_mapping
from cloudwarden.store.state import Base, StateStore


class ChannelRow(Base):
    __tablename__ = "cw_notify_channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    config: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ChannelStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    def add(self, data: dict[str, Any]) -> ChannelConfig:
        ch = channel_from_mapping(data, where="dashboard")
        with self.state.session() as s:
            s.execute(delete(ChannelRow).where(ChannelRow.name == ch.name))
            s.add(ChannelRow(name=ch.name, config=json.dumps(data), created_at=datetime.now()))
        return ch

    def remove(self, name: str) -> None:
        with self.state.session() as s:
            s.execute(delete(ChannelRow).where(ChannelRow.name == name))

    def list(self) -> list[ChannelConfig]:
        with self.state.session() as s:
            rows = list(s.scalars(select(ChannelRow).order_by(ChannelRow.name)))
        return [channel_from_mapping(json.loads(r.config), where=f"channel {r.name}") for r in rows]
