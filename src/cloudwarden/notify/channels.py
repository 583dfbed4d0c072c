"""Sending one message to one channel. Each raises on failure; the dispatcher retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

import httpx

from cloudwarden.notify import digest
from cloudwarden.notify.routing import ChannelConfig

TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Cloudwarden-Signature"
TIMESTAMP_HEADER = "X-Cloudwarden-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", so a captured request cannot be replayed later with a new time."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(secret: str, timestamp: str, body: bytes, sig: str, *, tolerance_s: float = 300, now: float | None = None) -> bool:
    """What a receiver runs: right signature, and a timestamp within the tolerance."""
    try:
        age = abs((now if now is not None else time.time()) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(signature(secret, timestamp, body), sig)


def send_slack(ch: ChannelConfig, alerts: Sequence[Mapping[str, Any]]) -> None:
    body = {"text": f"*{digest.subject(alerts)}*\n{digest.text(alerts)}"}
    r = httpx.post(ch.url, json=body, timeout=TIMEOUT_S)
    r.raise_for_status()


def send_webhook(ch: ChannelConfig, alerts: Sequence[Mapping[str, Any]]) -> None:
    body = json.dumps(digest.payload(alerts), default=str, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    headers = {"content-type": "application/json", TIMESTAMP_HEADER: ts}
    if ch.secret:
        headers[SIGNATURE_HEADER] = signature(ch.secret, ts, body)
    r = httpx.post(ch.url, content=body, headers=headers, timeout=TIMEOUT_S)
    r.raise_for_status()


def send_email(ch: ChannelConfig, alerts: Sequence[Mapping[str, Any]]) -> None:
    msg = EmailMessage()
    msg["Subject"] = digest.subject(alerts)
    msg["From"] = ch.mail_from
    msg["To"] = ", ".join(ch.mail_to)
    msg.set_content(digest.text(alerts))
    with smtplib.SMTP(ch.smtp_host, ch.smtp_port, timeout=TIMEOUT_S) as smtp:
        smtp.send_message(msg)


SENDERS = {"slack": send_slack, "webhook": send_webhook, "email": send_email}


def send(ch: ChannelConfig, alerts: Sequence[Mapping[str, Any]]) -> None:
    SENDERS[ch.kind](ch, alerts)
