"""Decode CloudTrail file contents into records, keeping each record's JSON text. Pure, no I/O.

Formats (detected from the content, not the file name):
- CloudTrail's own `{"Records": [...]}` (what S3 delivery writes), also a bare JSON array of records;
- JSON Lines: one record per line;
- CloudTrail Lake / Athena exports: JSON Lines or a JSON array of rows that carry the event in an
  `eventJson`-like column (object or JSON string), or flattened rows whose column names are the
  lower-cased CloudTrail field names (Athena's CloudTrail table) with JSON strings in the nested
  columns; CSV exports of either shape (`.csv`);
- AWS delivery envelopes: EventBridge events (`detail-type`, the record in `detail`) and CloudWatch Logs
  subscription payloads (`messageType`, each `logEvents[].message` a record's JSON text), one per line or
  written back to back without a separator (Kinesis Data Firehose's default in S3);
- Logstash / Elastic (ELK) exports, one document per line or in an array: a CloudTrail record with
  `@timestamp` (Logstash's json codec moves eventTime there) and `@version`; the record nested in the
  document, as CloudTrail's own JSON under `aws.cloudtrail`, or as JSON text in `event.original` (Elastic's
  AWS integration with preserve_original_event) or `message` (Filebeat/Logstash before parsing); any of
  these under `_source` (elasticdump, Elasticsearch bulk/scroll output) or in a search response's
  `hits.hits`. A record without `eventTime` takes it from `@timestamp` (the record's own, else the
  document's); a present eventTime is never replaced. An Elastic integration document that keeps only
  its ECS fields (the integration's default) is rebuilt into the CloudTrail record by undoing the
  integration's field moves (`cloudtrail/ecs.py`, which lists what cannot come back). Documents with
  dotted field names (`"event.action": ...`), search hits with `fields` only, and Kibana's CSV export of
  such documents are expanded into nested objects first.

The fast path splits `{"Records": [...]}` with msgspec into raw byte slices (no re-encoding: the raw
text kept in the lake is exactly what CloudTrail wrote) and decodes each slice with orjson. Decoding
problems are reported per record (index) or per line, never by raising, so one bad record costs only
itself.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
import orjson

from cloudwarden.cloudtrail.ecs import expand_dotted, has_dotted_fields, record_from_ecs

# Columns that hold a whole event in CloudTrail Lake / Athena query exports (compared lower-cased).
EVENT_COLUMNS = ("eventjson", "event_json", "rawevent", "raw_event", "raw", "event", "json", "_raw")

# Athena's CloudTrail table lower-cases every field name; map them back to CloudTrail's spelling.
_CAMEL = [
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
    "userAgent", "errorCode", "errorMessage", "requestParameters", "responseElements", "additionalEventData",
    "requestID", "requestId", "eventID", "eventId", "resources", "eventType", "apiVersion", "readOnly",
    "recipientAccountId", "serviceEventDetails", "sharedEventID", "vpcEndpointId", "eventCategory",
    "managementEvent", "tlsDetails", "sessionCredentialFromConsole", "type", "principalId", "arn", "accountId",
    "invokedBy", "accessKeyId", "userName", "sessionContext", "attributes", "mfaAuthenticated", "creationDate",
    "sessionIssuer", "webIdFederationData", "federatedProvider", "sourceIdentity", "ec2RoleDelivery",
    "identityProvider", "credentialId", "onBehalfOf", "userId", "identityStoreArn", "inScopeOf", "issuerType",
    "credentialsIssuedTo", "ARN", "tlsVersion", "cipherSuite", "clientProvidedHostHeader", "insightDetails",
    "edgeDeviceDetails", "addendum", "annotation",
]
CAMEL = {name.lower(): name for name in _CAMEL}
CAMEL["eventid"] = "eventID"
CAMEL["requestid"] = "requestID"
CAMEL["arn"] = "arn"
# Athena columns that hold JSON text for what CloudTrail writes as objects.
JSON_TEXT_FIELDS = ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails")
# Keys only a CloudTrail record has at its top level (to recognise one nested in an ELK document).
_RECORD_KEYS = ("eventID", "eventSource", "eventName")
# Where an ELK document keeps the original record as JSON text: Elastic's integration, then Filebeat/Logstash.
_ELK_TEXT_PATHS = (("event", "original"), ("message",))


class Record(NamedTuple):
    location: str  # "record 17" or "line 42": where in the file
    data: Any  # the decoded record (a dict when well-formed)
    raw: bytes  # its JSON text as UTF-8


@dataclass(slots=True)
class Problem:
    location: str  # "file", "record 17", "line 42"
    reason: str


class _RecordsFile(msgspec.Struct):
    Records: list[msgspec.Raw]


_records_decoder = msgspec.json.Decoder(_RecordsFile)
_array_decoder = msgspec.json.Decoder(list[msgspec.Raw])


_BYTE_POS = re.compile(r"\(byte (\d+)\)")


def _position(data: bytes, exc: Exception) -> str:
    pos = getattr(exc, "pos", None)
    found = _BYTE_POS.search(str(exc))
    if found:
        pos = int(found.group(1))
    if isinstance(pos, int):
        line = data.count(b"\n", 0, pos) + 1
        return f"line {line}, char {pos}"
    return ""


def _utf8_problem(raw: bytes) -> str | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"non-UTF-8 bytes at offset {exc.start}"
    return None


def iter_records(data: bytes, *, csv_format: bool = False) -> Iterator[Record | Problem]:
    """Every record of a file's content, or a Problem for what could not be decoded."""
    if csv_format:
        yield from _iter_csv(data)
        return
    start = data[:4096].lstrip()
    if start.startswith(b"{"):
        try:
            parsed = _records_decoder.decode(data)
        except msgspec.ValidationError:
            parsed = None  # valid JSON, not a Records file: one event, or JSON Lines
        except (msgspec.DecodeError, RecursionError) as exc:
            if isinstance(exc, RecursionError) and b'"Records"' in start[:200]:
                yield Problem("file", "JSON nested too deeply")
                return
            if b'"Records"' not in start[:200]:
                parsed = None  # JSON Lines (several documents) or a bad single document
            elif _utf8_problem(data):
                yield from _salvage_records(data)
                return
            else:
                yield Problem("file", f"invalid JSON ({_position(data, exc) or 'Records file'}): {exc}")
                return
        if parsed is not None:
            yield from _iter_raw_list(parsed.Records, "record")
            return
        try:
            whole = orjson.loads(data)
        except orjson.JSONDecodeError:
            yield from _iter_lines(data)
            return
        yield from _unwrap(whole, data.strip(), "record 0")
        return
    if start.startswith(b"["):
        try:
            items = _array_decoder.decode(data)
        except RecursionError:
            yield Problem("file", "JSON nested too deeply")
            return
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            detail = _utf8_problem(data) or f"invalid JSON array: {exc}"
            yield Problem("file", detail)
            return
        yield from _iter_raw_list(items, "record")
        return
    if not start:
        return
    yield from _iter_lines(data)


def _salvage_records(data: bytes) -> Iterator[Record | Problem]:
    """A Records file with non-UTF-8 bytes: keep the clean records, set aside those holding the bad bytes."""
    fixed = data.decode("utf-8", errors="replace").encode("utf-8")
    try:
        parsed = _records_decoder.decode(fixed)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        yield Problem("file", f"{_utf8_problem(data)}; and invalid JSON: {exc}")
        return
    for index, item in enumerate(parsed.Records):
        raw = bytes(item)
        if b"\xef\xbf\xbd" in raw:
            yield Problem(f"record {index}", "non-UTF-8 bytes in the record")
            continue
        yield from _iter_raw_list([item], f"record {index}", offset_label=True)


def _iter_raw_list(items: list[msgspec.Raw], label: str, offset_label: bool = False) -> Iterator[Record | Problem]:
    loads = orjson.loads
    for index, item in enumerate(items):
        raw = bytes(item)
        where = label if offset_label else f"{label} {index}"
        try:
            value = loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Problem(where, _utf8_problem(raw) or f"invalid JSON: {exc}")
            continue
        if value.__class__ is dict and "eventID" in value and "eventTime" in value:
            yield (where, value, raw)  # type: ignore[misc]  # the common case: a plain tuple is cheapest
            continue
        yield from _unwrap(value, raw, where)


def _iter_lines(data: bytes) -> Iterator[Record | Problem]:
    loads = orjson.loads
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            value = loads(line)
        except orjson.JSONDecodeError as exc:
            if str(exc).startswith(_TRAILING):
                yield from _iter_concatenated(line, number)
            else:
                yield Problem(f"line {number}", _utf8_problem(line) or f"invalid JSON: {exc}")
            continue
        if isinstance(value, dict) and isinstance(value.get("Records"), list):
            # a whole Records file written on one line
            for index, item in enumerate(value["Records"]):
                yield from _unwrap(item, orjson.dumps(item), f"line {number} record {index}")
            continue
        yield from _unwrap(value, line, f"line {number}")


_TRAILING = "unexpected content after document"  # orjson's error for a document followed by more text


def _iter_concatenated(line: bytes, number: int) -> Iterator[Record | Problem]:
    """Documents written back to back with no separator: what Kinesis Data Firehose delivers to S3 unless a
    newline delimiter is configured (EventBridge events, CloudWatch Logs payloads). Each document is
    decoded alone; text that is not a document ends the line with a problem naming where. Works on text:
    orjson reports where the trailing content starts in characters, not bytes."""
    try:
        rest = line.decode("utf-8")
    except UnicodeDecodeError:
        yield Problem(f"line {number}", _utf8_problem(line) or "non-UTF-8 bytes")
        return
    index = 0
    offset = 0  # characters into the line
    while rest:
        try:
            value = orjson.loads(rest)
            end = len(rest)
        except orjson.JSONDecodeError as exc:
            end = exc.pos
            value = _NOT_JSON
            if str(exc).startswith(_TRAILING) and 0 < end < len(rest):
                try:
                    value = orjson.loads(rest[:end])
                except orjson.JSONDecodeError:
                    value = _NOT_JSON
            if value is _NOT_JSON:
                yield Problem(f"line {number} document {index}", f"invalid JSON at character {offset}: {exc}")
                return
        yield from _unwrap(value, rest[:end].strip().encode("utf-8"), f"line {number} document {index}")
        index += 1
        stripped = rest[end:].lstrip()
        offset += len(rest) - len(stripped)
        rest = stripped


_NOT_JSON = object()


def _unwrap(value: Any, raw: bytes, location: str) -> Iterator[Record | Problem]:
    """A plain record, or the event inside an export row, an ELK document, an EventBridge event or a
    CloudWatch Logs subscription payload."""
    if value.__class__ is not dict:
        yield Record(location, value, raw)
        return
    if "eventID" in value and "eventTime" in value:
        yield Record(location, value, raw)
        return
    detail = value.get("detail")
    if detail.__class__ is dict and "detail-type" in value:
        # EventBridge: {"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": {record}}
        if _looks_like_record(detail):
            yield Record(location, detail, orjson.dumps(detail))
        else:
            yield Problem(location, f"EventBridge event of type {str(value.get('detail-type'))[:80]!r} "
                                    "holds no CloudTrail record in its detail")
        return
    kind = value.get("messageType")
    if kind.__class__ is str and "logEvents" in value:
        yield from _log_events(value, location)
        return
    hits = _search_hits(value)
    if hits is not None:
        for index, hit in enumerate(hits):
            yield from _unwrap(hit, orjson.dumps(hit), f"{location} hit {index}")
        return
    doc = value
    source = value.get("_source")
    if source.__class__ is dict and "eventID" not in value:
        doc = source  # elasticdump / bulk export: {"_index": ..., "_id": ..., "_source": {...}}
    elif source is None and "_id" in value and value.get("fields").__class__ is dict:
        doc = expand_dotted(value["fields"], lists=True)  # a search hit with `fields` only: dotted names, lists
    if "eventID" not in doc and has_dotted_fields(doc):
        doc = expand_dotted(doc)  # {"event.action": ..., "aws.cloudtrail.user_identity.arn": ...}
    event: Any = doc
    if "eventID" not in doc:
        event = _event_from_elk(doc) if "@timestamp" in doc else None
        if event is None:
            event = _event_from_row(doc)
        if event is None:
            event = doc
        elif isinstance(event, Problem):
            yield Problem(location, event.reason)
            return
    timed = _with_elk_time(event, doc)
    if isinstance(timed, Problem):
        yield Problem(location, timed.reason)
        return
    if timed is value:
        yield Record(location, timed, raw)
    else:
        yield _encoded(location, timed)


def _encoded(location: str, record: Any) -> Record | Problem:
    """A record taken out of its wrapper, with its JSON text; a hostile shape orjson refuses to encode (nesting
    past its limit once dotted names are expanded, say) is set aside, never raised."""
    try:
        return Record(location, record, orjson.dumps(record))
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        return Problem(location, f"record cannot be written as JSON: {exc}")


def _log_events(payload: dict[str, Any], location: str) -> Iterator[Record | Problem]:
    """A CloudWatch Logs subscription payload (CloudTrail sent to a log group, then to Firehose or Lambda):
    each log event's message is one record's JSON text. CONTROL_MESSAGE payloads are CloudWatch's own
    reachability checks and hold no events."""
    if payload.get("messageType") == "CONTROL_MESSAGE":
        return
    events = payload.get("logEvents")
    if events.__class__ is not list:
        yield Problem(location, "CloudWatch Logs payload whose logEvents is not a list")
        return
    for index, item in enumerate(events):
        where = f"{location} logEvent {index}"
        message = item.get("message") if item.__class__ is dict else None
        if message.__class__ is not str:
            yield Problem(where, "log event without a message")
            continue
        raw = message.strip().encode("utf-8", "surrogatepass")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Problem(where, _utf8_problem(raw) or f"message is not JSON: {exc}")
            continue
        yield from _unwrap(value, raw, where)


def _search_hits(value: dict[str, Any]) -> list[Any] | None:
    """The hits of an Elasticsearch search response (`{"hits": {"hits": [...]}}`), else None."""
    outer = value.get("hits")
    if outer.__class__ is dict and "eventID" not in value:
        inner = outer.get("hits")
        if inner.__class__ is list:
            return inner
    return None


def _looks_like_record(value: Any) -> bool:
    return value.__class__ is dict and any(key in value for key in _RECORD_KEYS)


def _event_from_elk(doc: dict[str, Any]) -> dict[str, Any] | Problem | None:
    """The CloudTrail record nested in a Logstash / Elastic document, or None when it holds none we know."""
    aws = doc.get("aws")
    nested = aws.get("cloudtrail") if aws.__class__ is dict else None
    if _looks_like_record(nested):
        return nested
    for path in _ELK_TEXT_PATHS:
        text: Any = doc
        for key in path:
            text = text.get(key) if text.__class__ is dict else None
        if text.__class__ is not str or not text.lstrip().startswith("{"):
            continue
        name = ".".join(path)
        try:
            inner = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return Problem("", f"{name}: invalid JSON: {exc}")
        if _looks_like_record(inner):
            return inner  # type: ignore[no-any-return]
    if nested.__class__ is dict:
        rebuilt = record_from_ecs(doc)  # the integration's default: ECS fields only, no event.original
        if rebuilt is not None:
            return rebuilt
        return Problem("", "Elastic AWS integration document without the original CloudTrail record "
                           "(event.original is absent) and without event.provider and event.action to rebuild "
                           "it from")
    return None


def _with_elk_time(event: Any, doc: dict[str, Any]) -> Any:
    """The record with `@timestamp` as its eventTime when it has none (a present eventTime always wins)."""
    if event.__class__ is not dict or "eventTime" in event:
        return event
    stamp = event.get("@timestamp", doc.get("@timestamp"))
    if stamp is None:
        return event  # nothing to take: normalisation sets the record aside as missing eventTime
    if stamp.__class__ is not str:
        return Problem("", f"eventTime missing and @timestamp is not ISO 8601 text: {str(stamp)[:40]!r}")
    try:
        datetime.fromisoformat(stamp)
    except ValueError:
        return Problem("", f"eventTime missing and @timestamp is not an ISO 8601 time: {stamp[:40]!r}")
    return {**event, "eventTime": stamp}


def _event_from_row(row: dict[str, Any]) -> dict[str, Any] | Problem | None:
    """The CloudTrail event in an export row, or None when the row does not look like an export."""
    lowered = {str(k).lower(): v for k, v in row.items()}
    for column in EVENT_COLUMNS:
        if column in lowered:
            value = lowered[column]
            if isinstance(value, str):
                try:
                    value = orjson.loads(value)
                except orjson.JSONDecodeError as exc:
                    return Problem("", f"column {column}: invalid JSON: {exc}")
            if isinstance(value, dict):
                return value
            return Problem("", f"column {column}: not a JSON object")
    if "eventid" in lowered or "eventtime" in lowered:
        return _camel_row(row)
    return None


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {CAMEL.get(str(k).lower(), k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _camel_row(row: dict[str, Any]) -> dict[str, Any]:
    """A flattened (Athena) row back into CloudTrail's shape."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = CAMEL.get(str(key).lower(), str(key))
        if value is None or value == "":
            continue
        if isinstance(value, str) and (name in JSON_TEXT_FIELDS or name in ("userIdentity", "resources", "tlsDetails")):
            stripped = value.strip()
            if stripped[:1] in ("{", "["):
                try:
                    value = orjson.loads(stripped)
                except orjson.JSONDecodeError:
                    if stripped.startswith("{") and "=" in stripped:
                        value = parse_athena_struct(stripped)
        elif name == "readOnly" and isinstance(value, str):
            value = value.lower() == "true"
        out[name] = _camel(value) if isinstance(value, (dict, list)) else value
    return out


def parse_athena_struct(text: str) -> Any:
    """Athena's text rendering of a struct, `{type=IAMUser, sessioncontext={attributes={...}}}`, best effort."""
    pos = 0

    def value_at() -> Any:
        nonlocal pos
        if pos < len(text) and text[pos] == "{":
            pos += 1
            obj: dict[str, Any] = {}
            while pos < len(text) and text[pos] != "}":
                eq = text.find("=", pos)
                if eq < 0:
                    break
                key = text[pos:eq].strip()
                pos = eq + 1
                obj[key] = value_at()
                if pos < len(text) and text[pos] == ",":
                    pos += 1
                    while pos < len(text) and text[pos] == " ":
                        pos += 1
            pos += 1
            return obj
        if pos < len(text) and text[pos] == "[":
            pos += 1
            items: list[Any] = []
            while pos < len(text) and text[pos] != "]":
                items.append(value_at())
                if pos < len(text) and text[pos] == ",":
                    pos += 1
                    while pos < len(text) and text[pos] == " ":
                        pos += 1
            pos += 1
            return items
        end = pos
        while end < len(text) and text[end] not in ",}]":
            end += 1
        token = text[pos:end].strip()
        pos = end
        return None if token == "null" else token  # noqa: S105 - not a password

    return value_at()


def _kibana_time(event: dict[str, Any]) -> dict[str, Any] | Problem:
    """Kibana writes times into CSV in its display format and time zone ("Jan 1, 2026 @ 10:00:00.000", the
    browser's zone by default): such a time cannot be read back safely, so the row is set aside, saying why."""
    stamp = event.get("eventTime")
    if stamp.__class__ is str:
        try:
            datetime.fromisoformat(stamp)
        except ValueError:
            return Problem("", f"@timestamp {stamp[:40]!r} is not an ISO 8601 time (Kibana writes its display format "
                               "into CSV: set its dateFormat to ISO 8601 and dateFormat:tz to UTC before exporting, "
                               "or export JSON)")
    return event


def _iter_csv(data: bytes) -> Iterator[Record | Problem]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # decode what we can; rows holding the bad bytes are set aside below
        text = data.decode("utf-8", errors="replace")
        bad_note = f"non-UTF-8 bytes at offset {exc.start}"
    else:
        bad_note = ""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        for number, row in enumerate(reader, start=2):
            location = f"line {number}"
            if bad_note and any("\ufffd" in (v or "") for v in row.values()):
                yield Problem(location, bad_note)
                continue
            clean = {k: v for k, v in row.items() if k is not None}
            event = _event_from_row(clean)
            if event is None and has_dotted_fields(clean):  # Kibana's CSV export of the integration's documents
                clean = expand_dotted(clean, csv=True)
                event = _event_from_elk(clean) if "@timestamp" in clean else None
                if event is not None and not isinstance(event, Problem):
                    event = _kibana_time(event)
            if isinstance(event, Problem):
                yield Problem(location, event.reason)
            elif event is None:
                yield Problem(location, "row has no event column and no eventID/eventTime columns")
            else:
                timed = _with_elk_time(event, clean)
                if isinstance(timed, Problem):
                    yield Problem(location, timed.reason)
                else:
                    yield _encoded(location, timed)
    except csv.Error as exc:
        yield Problem(f"line {reader.line_num}", f"invalid CSV: {exc}")
