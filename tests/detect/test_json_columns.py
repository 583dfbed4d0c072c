"""JSON column text: an event an ingest worker sent already serialised (bytes) is written exactly as the
event itself would be, on orjson's path and on the stdlib fallback (integers past 64 bits)."""

from __future__ import annotations

from typing import Any

import pytest

from cloudwarden.models.alert import evidence_event
from cloudwarden.store.state import json_bytes, json_text, json_value

EVENTS: list[dict[str, Any]] = [
    {"eventID": "e1", "eventName": "StopLogging", "requestParameters": {"name": "trail", "n": 3, "x": 0.1}},
    {"eventID": "e2", "userIdentity": {"type": "Root"}, "resources": [{"ARN": "arn:aws:s3:::b"}], "ok": True},
    {"eventID": "e3", "odd": "\u00e9\u4e2d \"quoted\" \\ back", "none": None, "nested": [[1, 2], {"a": []}]},
]


@pytest.mark.parametrize("k", range(len(EVENTS) + 1))
def test_serialised_events_write_the_same_text_as_the_events(k: int) -> None:
    mixed: list[Any] = [json_bytes(ev) for ev in EVENTS[:k]] + EVENTS[k:]
    assert all(isinstance(x, bytes) for x in mixed[:k])
    assert json_text(mixed) == json_text(EVENTS)
    assert json_value(json_text(mixed)) == EVENTS


def test_a_huge_integer_takes_the_stdlib_path_with_the_same_text() -> None:
    huge = {"eventID": "e4", "n": 2**70}
    assert json_bytes(huge) is None  # the caller keeps the dict
    mixed: list[Any] = [json_bytes(EVENTS[0]), huge]
    assert json_text(mixed) == json_text([EVENTS[0], huge])
    assert json_value(json_text(mixed))[1]["n"] == 2**70


def test_evidence_event_decodes_bytes_and_passes_dicts() -> None:
    serialised = json_bytes(EVENTS[1])
    assert serialised is not None
    assert evidence_event(serialised) == EVENTS[1]
    assert evidence_event(EVENTS[2]) is EVENTS[2]
    assert evidence_event(b"[1, 2]") == {}  # not an event: an empty one, never a crash
