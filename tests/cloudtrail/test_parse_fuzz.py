"""Parsing never raises, whatever the bytes: every supported shape, damaged at random, yields records and
problems only (a problem names where; the rest of the file goes on)."""

from __future__ import annotations

import json
from collections.abc import Callable

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.cloudtrail.ecs import record_from_ecs
from cloudwarden.cloudtrail.parse import Problem, Record, iter_records
from tests.cloudtrail import factory as f
from tests.cloudtrail.test_delivery_envelopes import eventbridge, log_payload
from tests.cloudtrail.test_ecs import _dotted, _fields, to_ecs

RECORDS = [f.event("PutObject", event_id="evt-uni", params={"bucketName": "données", "key": "😀"}), *f.many(4)]
SHAPES: list[Callable[[], bytes]] = [
    lambda: orjson.dumps({"Records": RECORDS}),
    lambda: b"\n".join(orjson.dumps(r) for r in RECORDS),
    lambda: b"\n".join(orjson.dumps(to_ecs(r)) for r in RECORDS),
    lambda: orjson.dumps({"hits": {"hits": [{"_source": to_ecs(r)} for r in RECORDS]}}),
    lambda: b"".join(orjson.dumps(log_payload(RECORDS[:3])) for _ in range(2)),
    lambda: b"".join(orjson.dumps(eventbridge(r)) for r in RECORDS),
    lambda: orjson.dumps([{"eventjson": json.dumps(r)} for r in RECORDS]),
    lambda: b"\n".join(orjson.dumps(_dotted(to_ecs(r))) for r in RECORDS),
    lambda: orjson.dumps({"hits": {"hits": [{"_id": str(i), "fields": _fields(to_ecs(r))} for i, r in enumerate(RECORDS)]}}),
]
DAMAGE = [b"{", b"}", b"[", b"]", b",", b'"', b"null", b"\xff\xfe", b"1e999", b'"\\ud800"', b"{}{}", "é".encode()]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(SHAPES[draw(st.integers(0, len(SHAPES) - 1))]())
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.integers(0, 3))
        if op == 0:
            data[at] = draw(st.integers(0, 255))
        elif op == 1:
            del data[at:at + draw(st.integers(1, 20))]
        elif op == 2:
            data[at:at] = draw(st.sampled_from(DAMAGE))
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(damaged())
def test_damaged_input_yields_records_and_problems_never_an_exception(data: bytes) -> None:
    for item in iter_records(data):
        assert isinstance(item, (Record, Problem)) or (isinstance(item, tuple) and len(item) == 3)
        if isinstance(item, Problem):
            assert item.location and item.reason


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(RECORDS), st.dictionaries(
    st.sampled_from(["aws", "event", "user", "cloud", "source", "user_agent", "tls", "@timestamp"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
              st.dictionaries(st.text(max_size=3), st.none(), max_size=2)), max_size=3))
def test_ecs_rebuild_of_a_document_with_odd_field_types_never_raises(record: dict[str, object], odd: dict[str, object]) -> None:
    doc = {**to_ecs(record), **odd}
    rebuilt = record_from_ecs(doc)
    assert rebuilt is None or isinstance(rebuilt, dict)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(RECORDS), st.dictionaries(
    st.text(alphabet="aeu.ct_", min_size=1, max_size=12),
    st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5),
              st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2),
              st.dictionaries(st.text(alphabet="ab.", max_size=4), st.integers(0, 9), max_size=2)), max_size=4))
def test_dotted_documents_with_odd_names_and_values_never_raise(record: dict[str, object], odd: dict[str, object]) -> None:
    doc = {**_dotted(to_ecs(record)), **odd}
    for item in iter_records(orjson.dumps(doc) + b"\n"):
        assert isinstance(item, (Record, Problem)) or (isinstance(item, tuple) and len(item) == 3)
