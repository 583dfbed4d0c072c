"""Notifications against real local receivers: Slack-style and signed webhooks over HTTP, email over SMTP;
routing, bursts becoming digests, rate limits, retries, a bounded queue."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cloudwarden.errors import ConfigError
from cloudwarden.notify import digest
from cloudwarden.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from cloudwarden.notify.dispatcher import Notifier
from cloudwarden.notify.routing import ChannelConfig, channel_from_mapping, route
from tests.helpers.receivers import HttpSink, SmtpSink


def alert(i: int, severity: str = "high", source: str = "cloudtrail", title: str = "Trail stopped") -> dict[str, Any]:
    return {"id": i, "title": title, "severity": severity, "source": source, "entity": f"arn:aws:iam::1:user/u{i}",
            "account": "111111111111", "explanation": "StopLogging by an unusual principal"}


@pytest.fixture
def http() -> Iterator[HttpSink]:
    sink = HttpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_routing_by_severity_and_source() -> None:
    chans = [
        channel_from_mapping({"name": "all-high", "kind": "slack", "url": "http://x/", "min_severity": "high"}),
        channel_from_mapping({"name": "host-only", "kind": "webhook", "url": "http://x/", "min_severity": "low", "sources": "host,baseline-host"}),
    ]
    assert [c.name for c in route(alert(1, "critical"), chans)] == ["all-high"]
    assert [c.name for c in route(alert(1, "medium", "host"), chans)] == ["host-only"]
    assert [c.name for c in route(alert(1, "high", "host"), chans)] == ["all-high", "host-only"]
    assert route(alert(1, "low"), chans) == []
    with pytest.raises(ConfigError, match="kind"):
        channel_from_mapping({"name": "x", "kind": "pager"})
    with pytest.raises(ConfigError, match="mail_to"):
        channel_from_mapping({"name": "x", "kind": "email"})
    assert "secret" not in json.dumps(channel_from_mapping({"name": "w", "kind": "webhook", "url": "https://h/p?token=abc", "secret": "zzz"}).public())


def test_burst_becomes_one_signed_digest(http: HttpSink) -> None:
    ch = ChannelConfig(name="hook", kind="webhook", url=http.url, secret="topsecret", min_severity="low")
    n = Notifier(lambda: [ch], group_window_s=0.3, max_per_minute=6).start()
    for i in range(50):
        n.submit(alert(i, title="Trail stopped" if i % 2 else "Key created"))
    wait_for(lambda: len(http.requests) >= 1)
    time.sleep(0.5)
    n.stop()
    assert len(http.requests) == 1
    _, headers, body = http.requests[0]
    payload = json.loads(body)
    assert payload["count"] == 50 and len(payload["alerts"]) == 50
    assert verify("topsecret", headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()])
    assert not verify("wrong", headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()])
    assert not verify("topsecret", headers[TIMESTAMP_HEADER.lower()], body + b" ", headers[SIGNATURE_HEADER.lower()])
    # a replay long after the timestamp is refused
    assert not verify("topsecret", headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()], now=time.time() + 3600)


def test_slack_message_and_retry_after_errors(http: HttpSink) -> None:
    http.statuses = [500, 503]
    ch = ChannelConfig(name="slack", kind="slack", url=http.url, min_severity="high")
    n = Notifier(lambda: [ch], group_window_s=0.05, retries=3, retry_base_s=0.01).start()
    n.submit(alert(1, "critical"))
    wait_for(lambda: n.stats.sent_messages == 1)
    n.stop()
    assert len(http.requests) == 3 and n.stats.retries == 2
    text = json.loads(http.requests[-1][2])["text"]
    assert "Trail stopped" in text and "critical" in text


def test_gives_up_after_retries(http: HttpSink) -> None:
    http.statuses = [500] * 10
    ch = ChannelConfig(name="slack", kind="slack", url=http.url, min_severity="low")
    n = Notifier(lambda: [ch], group_window_s=0.01, retries=2, retry_base_s=0.01).start()
    n.submit(alert(1))
    wait_for(lambda: n.stats.failed_messages == 1)
    n.stop()
    assert len(http.requests) == 3


def test_rate_limit_turns_flood_into_few_messages(http: HttpSink) -> None:
    ch = ChannelConfig(name="hook", kind="webhook", url=http.url, min_severity="low")
    n = Notifier(lambda: [ch], group_window_s=0.01, max_per_minute=2).start()
    for i in range(30):
        n.submit(alert(i))
        time.sleep(0.01)
    time.sleep(0.3)
    sent_during = len(http.requests)
    n.stop(flush=True)  # shutdown sends what is left as one final digest
    assert sent_during == 2
    assert len(http.requests) == 3
    assert sum(json.loads(b)["count"] for _, _, b in http.requests) == 30


def test_email_over_smtp(smtp: SmtpSink) -> None:
    ch = ChannelConfig(name="mail", kind="email", smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="cw@example.test",
                       mail_to=("soc@example.test",), min_severity="medium")
    n = Notifier(lambda: [ch], group_window_s=0.05).start()
    n.submit(alert(1, "high"))
    n.submit(alert(2, "critical", title="Root login"))
    n.submit(alert(3, "low"))  # below the channel's threshold
    wait_for(lambda: len(smtp.messages) == 1)
    n.stop()
    msg = smtp.messages[0]
    assert msg["to"] == ["<soc@example.test>"]
    assert "Subject: cloudwarden: 2 alerts (worst: critical)" in msg["data"]
    assert "Root login" in msg["data"] and "Trail stopped" in msg["data"]


def test_queue_is_bounded() -> None:
    n = Notifier(lambda: [], queue_max=5)
    accepted = [n.submit(alert(i)) for i in range(8)]
    assert accepted == [True] * 5 + [False] * 3 and n.stats.dropped == 3


def test_digest_text_lists_counts() -> None:
    alerts = [alert(i, title="A") for i in range(3)] + [alert(9, "critical", title="B")]
    text = digest.text(alerts)
    assert "3 × A" in text and "1 × B" in text
    assert text.splitlines()[4].startswith("[critical]")  # worst first
