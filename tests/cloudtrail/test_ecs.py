"""CloudTrail records rebuilt from Elastic AWS integration documents that keep only ECS fields.

`to_ecs` below is our reading of what the integration's ingest pipeline stores for a record (renames,
dropped nulls, the flattened bodies, the Java toString copies); rebuilding must give the record back, less
what the pipeline does not keep."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloudwarden.cloudtrail.ecs import REBUILT_MARK, record_from_ecs
from cloudwarden.cloudtrail.normalize import normalize
from tests.cloudtrail import factory as f
from tests.cloudtrail.test_parse_sources import _records

MAX_FLATTENED = 32766  # the pipeline keeps the object form of a body only below this many characters
TOP = {"eventVersion": "event_version", "errorCode": "error_code", "errorMessage": "error_message",
       "requestID": "request_id", "eventType": "event_type", "apiVersion": "api_version",
       "managementEvent": "management_event", "readOnly": "read_only", "recipientAccountId": "recipient_account_id",
       "vpcEndpointId": "vpc_endpoint_id", "eventCategory": "event_category"}
BODIES = {"requestParameters": "request_parameters", "responseElements": "response_elements",
          "additionalEventData": "additional_eventdata", "serviceEventDetails": "service_event_details"}


def _java_text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(v) for v in value) + "]"
    return str(value)


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [v for v in (_drop_empty(x) for x in value) if v not in (None, "", {}, [])]
    return value


def to_ecs(record: dict[str, Any]) -> dict[str, Any]:
    """The document Elastic's AWS integration indexes for a CloudTrail record (no preserve_original_event)."""
    rec = _drop_empty(copy.deepcopy(record))
    ui = rec.get("userIdentity", {})
    trail: dict[str, Any] = {"flattened": {}}
    for name, ecs in TOP.items():
        if name in rec:
            trail[ecs] = rec[name]
    for name, ecs in BODIES.items():
        if name in rec:
            text = _java_text(rec[name])
            trail[ecs] = text
            if len(text) < MAX_FLATTENED:
                trail["flattened"][ecs] = rec[name]
    identity: dict[str, Any] = {}
    for name, ecs in (("type", "type"), ("arn", "arn"), ("accessKeyId", "access_key_id"), ("invokedBy", "invoked_by")):
        if name in ui:
            identity[ecs] = ui[name]
    user: dict[str, Any] = {}
    if "principalId" in ui:
        user["id"] = ui["principalId"]
    if "userName" in ui:
        user["name"] = ui["userName"]
    context = ui.get("sessionContext", {})
    if context:
        session: dict[str, Any] = {}
        attrs = context.get("attributes", {})
        if "mfaAuthenticated" in attrs:
            session["mfa_authenticated"] = attrs["mfaAuthenticated"]
        if "creationDate" in attrs:
            session["creation_date"] = attrs["creationDate"].replace("Z", ".000Z")
        issuer = context.get("sessionIssuer", {})
        if issuer:
            session["session_issuer"] = {ecs: issuer[name] for name, ecs in (
                ("type", "type"), ("principalId", "principal_id"), ("arn", "arn"), ("accountId", "account_id"))
                if name in issuer}
            if "userName" in issuer and "name" not in user:
                user["name"] = issuer["userName"]
        identity["session_context"] = session
    trail["user_identity"] = identity
    if "resources" in rec:
        trail["resources"] = [{"arn": r["ARN"], "account_id": r["accountId"], "type": r["type"]} for r in rec["resources"]]
    doc: dict[str, Any] = {
        "@timestamp": rec["eventTime"].replace("Z", ".000Z"),
        "aws": {"cloudtrail": trail},
        "event": {"action": rec["eventName"], "provider": rec["eventSource"], "id": rec["eventID"],
                  "kind": "event", "outcome": "failure" if "errorCode" in rec else "success", "type": ["info"]},
        "cloud": {"region": rec["awsRegion"]},
        "ecs": {"version": "8.11.0"},
        "source": {"address": rec["sourceIPAddress"]},
        "user_agent": {"original": rec["userAgent"], "name": "Other"},
        "related": {"entity": [ui.get("arn", "")]},
    }
    if "accountId" in ui:
        doc["cloud"]["account"] = {"id": ui["accountId"]}
    if user:
        doc["user"] = user
    if rec["sourceIPAddress"][0].isdigit():
        doc["source"]["ip"] = rec["sourceIPAddress"]
    tls = rec.get("tlsDetails")
    if tls:
        protocol, _, version = tls["tlsVersion"].partition("v")
        doc["tls"] = {"version_protocol": protocol.lower(), "version": version, "cipher": tls["cipherSuite"],
                      "client": {"server_name": tls["clientProvidedHostHeader"]}}
    return doc


def _records_of(*docs: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    return _records(b"\n".join(orjson.dumps(d) for d in docs) + b"\n")


def _variety() -> list[dict[str, Any]]:
    out = f.many(len(f.pool()))
    out.append(f.event("AssumeRole", "sts.amazonaws.com", event_id="evt-role", identity=f.assumed_role(mfa=True),
                       resources=[{"accountId": f.ACCOUNT, "type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{f.ACCOUNT}:role/x"}],
                       tlsDetails={"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                                   "clientProvidedHostHeader": "sts.amazonaws.com"}))
    return out


@pytest.mark.parametrize("record", _variety(), ids=lambda r: r["eventName"])
def test_an_ecs_only_document_gives_back_the_record_less_what_the_integration_drops(record: dict[str, Any]) -> None:
    doc = to_ecs(record)
    assert "original" not in doc["event"]  # the integration's default
    recs, probs = _records_of(doc)
    assert not probs and len(recs) == 1
    assert recs[0].data == {**_drop_empty(record), REBUILT_MARK: "elastic-ecs"}  # marked as rebuilt
    assert orjson.loads(recs[0].raw) == recs[0].data
    assert normalize(recs[0].data) == normalize(_drop_empty(record))  # the marker changes nothing downstream


def test_an_assumed_role_keeps_its_session_issuer_name_apart_from_an_iam_users_name() -> None:
    role = record_from_ecs(to_ecs(f.event("PutObject", identity=f.assumed_role(role="deploy", session="ci"))))
    user = record_from_ecs(to_ecs(f.event("PutObject", identity=f.iam_user("carol"))))
    assert role is not None and user is not None
    assert role["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] == "deploy"
    assert "userName" not in role["userIdentity"]
    assert user["userIdentity"]["userName"] == "carol" and "sessionContext" not in user["userIdentity"]
    assert normalize(role).principal == f"arn:aws:iam::{f.ACCOUNT}:role/deploy"
    assert normalize(role).session_name == "ci"


def test_a_body_too_large_for_the_flattened_field_is_left_out_not_guessed() -> None:
    big = {"policyDocument": "x" * 40_000, "policyName": "p"}
    record = f.event("PutUserPolicy", "iam.amazonaws.com", params=big)
    doc = to_ecs(record)
    assert "request_parameters" not in doc["aws"]["cloudtrail"]["flattened"]
    assert doc["aws"]["cloudtrail"]["request_parameters"].startswith("{policyDocument=")  # Java's text only
    rebuilt = record_from_ecs(doc)
    assert rebuilt is not None and "requestParameters" not in rebuilt
    assert rebuilt["eventName"] == "PutUserPolicy" and rebuilt["eventID"] == record["eventID"]


def test_documents_that_cannot_be_rebuilt_are_set_aside_with_the_reason() -> None:
    no_action = to_ecs(f.event("StopLogging", "cloudtrail.amazonaws.com"))
    del no_action["event"]["action"]
    assert record_from_ecs(no_action) is None
    assert record_from_ecs({"@timestamp": "2026-01-01T00:00:00.000Z", "event": {"action": "x"}}) is None  # not ECS AWS
    good = to_ecs(f.event("StopLogging", "cloudtrail.amazonaws.com", event_id="evt-good"))
    recs, probs = _records_of(no_action, good)
    assert [r.data["eventID"] for r in recs] == ["evt-good"]
    assert len(probs) == 1 and probs[0].location == "line 1"
    assert "event.provider and event.action" in probs[0].reason


def test_ingest_of_an_elastic_export_alerts_like_the_raw_records(tmp_path: Path) -> None:
    records = f.many(28)
    hits = [{"_index": ".ds-logs-aws.cloudtrail-default", "_id": str(i), "_source": to_ecs(r)} for i, r in enumerate(records)]
    (tmp_path / "elastic").mkdir()
    (tmp_path / "elastic" / "export.json").write_text(json.dumps({"hits": {"total": {"value": 28}, "hits": hits}}))
    f.write_records(tmp_path / "raw" / "records.json.gz", records)

    from_elastic, alerts_elastic = f.ingest_and_alerts(tmp_path, "elastic")
    from_raw, alerts_raw = f.ingest_and_alerts(tmp_path, "raw")
    assert from_elastic.events == 28 and from_elastic.records_set_aside == 0
    assert from_elastic.records_rebuilt == 28 and from_raw.records_rebuilt == 0  # the summary says which were rebuilt
    assert alerts_elastic and alerts_elastic == alerts_raw
    assert from_elastic.alerts_by_severity == from_raw.alerts_by_severity


def test_the_ingest_summary_says_how_many_records_were_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cloudwarden.cli import common
    from cloudwarden.cli.main import app

    monkeypatch.setattr(common.console, "_width", 300)  # the tmp path must not wrap the table's rows
    folder = tmp_path / "elastic"
    folder.mkdir()
    (folder / "export.ndjson").write_text("\n".join(json.dumps(to_ecs(r)) for r in f.many(5)) + "\n")
    shown = CliRunner().invoke(app, ["trail", "ingest", str(folder)])
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if "records rebuilt from Elastic ECS fields" in line)
    assert row.rstrip(" │").endswith(" 5")
    again = CliRunner().invoke(app, ["trail", "ingest", str(folder), "--json"])
    assert json.loads(again.output)["records_rebuilt"] == 0  # nothing new the second time


def _dotted(value: dict[str, Any], prefix: str = "", keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every nested object flattened into dotted names, as some exporters and Kibana write documents (`keep`:
    names whose objects stay whole)."""
    out: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}{key}"
        if isinstance(inner, dict) and inner and name not in keep:
            out.update(_dotted(inner, name + ".", keep))
        else:
            out[name] = inner
    return out


def _fields(doc: dict[str, Any]) -> dict[str, Any]:
    """What Elasticsearch's `fields` option returns for a document: dotted leaf names, each value a list;
    a `flattened` field (the bodies) whole; an array of objects as one list per leaf name."""
    bodies = tuple(f"aws.cloudtrail.flattened.{b}" for b in BODIES.values())
    out: dict[str, Any] = {}
    for name, value in _dotted(doc, keep=bodies).items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                for leaf, inner in _dotted(item, name + ".").items():
                    out.setdefault(leaf, []).append(inner)
        else:
            out[name] = value if isinstance(value, list) else [value]
    return out


@pytest.mark.parametrize("record", _variety()[:8] + _variety()[-1:], ids=lambda r: r["eventName"])
def test_a_document_with_dotted_field_names_is_rebuilt_like_the_nested_one(record: dict[str, Any]) -> None:
    nested = to_ecs(record)
    dotted = _dotted(nested)
    assert "event.action" in dotted and not any(isinstance(v, dict) and v for v in dotted.values())
    want, no_problems = _records_of(nested)
    for shape in (dotted, {"_index": "logs-aws.cloudtrail", "_id": "1", "_source": dotted}):
        recs, probs = _records_of(shape)
        assert not probs and not no_problems and [r.data for r in recs] == [want[0].data]
    # Elasticsearch's `fields` option: dotted names, every value a list
    hit = {"_index": "logs-aws.cloudtrail", "_id": "1", "fields": _fields(nested)}
    recs, probs = _records_of({"hits": {"hits": [hit]}})
    assert not probs and [r.data for r in recs] == [want[0].data]


def test_dotted_names_merge_with_nested_objects_and_a_body_object_keeps_its_own_names() -> None:
    from cloudwarden.cloudtrail.ecs import expand_dotted

    doc = {"aws": {"cloudtrail": {"user_identity.type": "IAMUser"}}, "aws.cloudtrail.user_identity.arn": "arn:x",
           "aws.cloudtrail.flattened.request_parameters": {"method.request.header.x": True},
           "aws.cloudtrail.flattened.response_elements.a.b": 1, "@timestamp": "t"}
    assert expand_dotted(doc) == {"@timestamp": "t", "aws": {"cloudtrail": {
        "user_identity": {"type": "IAMUser", "arn": "arn:x"},
        "flattened": {"request_parameters": {"method.request.header.x": True}, "response_elements": {"a": {"b": 1}}}}}}


def test_resource_lists_from_the_fields_option_are_zipped_only_when_they_line_up() -> None:
    base = to_ecs(f.event("AssumeRole", "sts.amazonaws.com"))
    aligned = {**base, "aws": {"cloudtrail": {**base["aws"]["cloudtrail"], "resources": {
        "arn": ["arn:a", "arn:b"], "type": ["AWS::IAM::Role", "AWS::KMS::Key"], "account_id": ["1", "2"]}}}}
    ragged = {**base, "aws": {"cloudtrail": {**base["aws"]["cloudtrail"], "resources": {
        "arn": ["arn:a", "arn:b"], "type": ["AWS::IAM::Role"]}}}}
    one, two = record_from_ecs(aligned), record_from_ecs(ragged)
    assert one is not None and two is not None
    assert one["resources"] == [{"accountId": "1", "type": "AWS::IAM::Role", "ARN": "arn:a"},
                                {"accountId": "2", "type": "AWS::KMS::Key", "ARN": "arn:b"}]
    assert two["resources"] == [{"ARN": "arn:a"}, {"ARN": "arn:b"}]  # which type went with which ARN is lost


def test_a_kibana_csv_export_is_rebuilt_and_display_format_times_are_set_aside(tmp_path: Path) -> None:
    import csv
    import io

    from cloudwarden.cloudtrail.parse import iter_records

    records = f.many(6)
    rows = [_dotted(to_ecs(r)) for r in records]
    for row in rows:  # Kibana writes objects and arrays as JSON, booleans as text, "-" for what a row lacks
        for key, value in list(row.items()):
            row[key] = json.dumps(value) if isinstance(value, (dict, list)) else str(value).lower() if isinstance(value, bool) else value
    columns = sorted({k for row in rows for k in row})
    rows[5]["@timestamp"] = "Jan 1, 2026 @ 10:00:00.000"  # Kibana's default display format
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="-")
    writer.writeheader()
    writer.writerows(rows)
    got = list(iter_records(text.getvalue().encode(), csv_format=True))
    rebuilt = [r for r in got if not hasattr(r, "reason")]
    problems = [r for r in got if hasattr(r, "reason")]
    assert [r.data for r in rebuilt] == [{**_drop_empty(rec), REBUILT_MARK: "elastic-ecs"} for rec in records[:5]]
    assert len(problems) == 1 and problems[0].location == "line 7"
    assert "not an ISO 8601 time" in problems[0].reason and "dateFormat" in problems[0].reason


def test_hostile_dotted_names_are_set_aside_or_kept_flat_never_raised() -> None:
    from cloudwarden.cloudtrail.ecs import MAX_DOTTED_PARTS, expand_dotted

    long_name = "event." + "x." * 5000 + "y"  # would nest 5000 deep
    assert expand_dotted({long_name: 1}) == {long_name: 1}
    assert expand_dotted({"aws": {long_name: 1}}) == {"aws": {long_name: 1}}
    deep: Any = 1
    for _ in range(240):
        deep = {"a": deep}  # orjson writes at most 254 levels: the expanded prefix pushes this past it
    prefix = ".".join(["event"] * MAX_DOTTED_PARTS)
    lines = [{"@timestamp": "2026-01-01T00:00:00Z", "eventTime": "2026-01-01T00:00:00Z", long_name: 1},
             {"@timestamp": "2026-01-01T00:00:00Z", "eventTime": "2026-01-01T00:00:00Z", prefix: deep},
             f.event("StopLogging", "cloudtrail.amazonaws.com", event_id="evt-after")]
    recs, probs = _records_of(*lines)
    assert recs[-1].data["eventID"] == "evt-after"  # the rest of the file goes on
    assert len(recs) + len(probs) == 3
    assert any("cannot be written as JSON" in p.reason for p in probs)
