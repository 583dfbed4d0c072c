"""CloudTrail records rebuilt from the ECS documents of Elastic's AWS integration. Pure, no I/O.

Elastic's AWS CloudTrail integration drops the original record (`event.original`) unless its
`preserve_original_event` option is on, so an export of most Elastic deployments holds only ECS fields.
Its ingest pipeline moves each CloudTrail field to one place, so the move can be undone field by field:

    eventTime           @timestamp              eventSource      event.provider
    eventName           event.action            eventID          event.id
    awsRegion           cloud.region            sourceIPAddress  source.address (or source.ip)
    userAgent           user_agent.original     errorCode        aws.cloudtrail.error_code
    requestParameters   aws.cloudtrail.flattened.request_parameters (also responseElements,
                        additionalEventData, serviceEventDetails, insightDetails under flattened.*)
    userIdentity        aws.cloudtrail.user_identity.* (snake_case), plus principalId from user.id,
                        accountId from cloud.account.id, and userName from user.name: the session issuer's
                        name when there is a session issuer (the pipeline writes that one there), else the
                        identity's own
    tlsDetails          tls.version_protocol + tls.version, tls.cipher, tls.client.server_name
    the rest            aws.cloudtrail.<snake_case of the CloudTrail name>

Documents whose field names hold the dots instead of nesting (`"event.action": "CreateUser"`), as
Elasticsearch's `fields` option (each value a list), Kibana's CSV export and some shippers write them, are
expanded into nested objects first (`expand_dotted`). A dotted name is a path everywhere, inside the
CloudTrail bodies too (that is how a flattening exporter writes a nested body); a body that arrives as an
object (`aws.cloudtrail.flattened.request_parameters: {...}`) keeps its own field names, dotted ones included
(API Gateway's `method.request.header.x`).

A rebuilt record carries `"cloudwardenRebuiltFrom": "elastic-ecs"`, so an analyst reading its evidence (and
the ingest summary, which counts them) knows it is not CloudTrail's own text.

What the integration does not keep cannot come back, and is left out rather than guessed:
- a requestParameters/responseElements/additionalEventData body of 32 KB or more (the integration keeps
  only Java's `Map.toString()` of it, which is not JSON);
- null and empty values (the pipeline drops them: `"requestParameters": null` reads as absent);
- sessionCredentialFromConsole, webIdFederationData, sourceIdentity, onBehalfOf and other identity details
  it has no field for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# aws.cloudtrail.<snake> -> CloudTrail's name, for the fields the pipeline renames one to one
_TOP_LEVEL = (
    ("event_version", "eventVersion"),
    ("error_code", "errorCode"),
    ("error_message", "errorMessage"),
    ("request_id", "requestID"),
    ("event_type", "eventType"),
    ("api_version", "apiVersion"),
    ("management_event", "managementEvent"),
    ("read_only", "readOnly"),
    ("recipient_account_id", "recipientAccountId"),
    ("shared_event_id", "sharedEventID"),
    ("vpc_endpoint_id", "vpcEndpointId"),
    ("event_category", "eventCategory"),
)
_FLATTENED = (
    ("request_parameters", "requestParameters"),
    ("response_elements", "responseElements"),
    ("additional_eventdata", "additionalEventData"),
    ("service_event_details", "serviceEventDetails"),
    ("insight_details", "insightDetails"),
)
_ISSUER = (("type", "type"), ("principal_id", "principalId"), ("arn", "arn"), ("account_id", "accountId"))
REBUILT_MARK = "cloudwardenRebuiltFrom"  # key of the provenance marker a rebuilt record carries


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not None and value != "":
        target[name] = value


def _cloudtrail_time(value: Any) -> Any:
    """Elasticsearch's date text as CloudTrail writes it: whole seconds without the `.000`."""
    if isinstance(value, str) and value.endswith(".000Z") and len(value) == 24:
        return value[:19] + "Z"
    return value


def looks_like_ecs(doc: Mapping[str, Any]) -> bool:
    """A document of Elastic's AWS CloudTrail integration: ECS `event` fields and an `aws.cloudtrail` object."""
    return isinstance(_dict(doc.get("aws")).get("cloudtrail"), Mapping) and isinstance(doc.get("event"), Mapping)


_BODIES = ("aws", "cloudtrail", "flattened")  # each field below this path is a CloudTrail body, as it is
_CSV_BOOLEANS = frozenset({"aws.cloudtrail.read_only", "aws.cloudtrail.management_event"})
_CSV_EMPTY = ("", "-")  # Kibana writes "-" for a field a document does not have
MAX_DOTTED_PARTS = 32  # a longer dotted name stays one flat key: no ECS path is this deep, a hostile one may be


_ECS_ROOTS = frozenset({"event", "aws", "cloud", "user", "source", "user_agent", "tls", "related", "ecs", "host"})


def has_dotted_fields(doc: Mapping[str, Any]) -> bool:
    """Whether some top-level field name is a dotted ECS path (`event.action`, `aws.cloudtrail.*`, ...)."""
    return any(key.__class__ is str and "." in key and key.split(".", 1)[0] in _ECS_ROOTS for key in doc)


def expand_dotted(doc: Mapping[str, Any], *, lists: bool = False, csv: bool = False) -> dict[str, Any]:
    """`doc` with dotted field names made nested objects, merged with any nested ones it already has.

    `lists`: Elasticsearch's `fields` shape, where every value is a list: a one-element list becomes its element.
    `csv`: values are text (Kibana's CSV export): JSON objects and arrays are decoded, "true"/"false" become
    booleans for the integration's boolean fields, and empty values ("" or Kibana's "-") are left out."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = str(key)
        if lists and isinstance(value, list) and len(value) == 1:
            value = value[0]
        if csv:
            value = _csv_value(name, value)
            if value is None:
                continue
        _merge(out, name.split("."), value)
    return out


def _csv_value(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if stripped in _CSV_EMPTY:
        return None
    if name in _CSV_BOOLEANS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if stripped[:1] in ("{", "["):
        try:
            return orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return value
    return value


def _merge(node: dict[str, Any], path: list[str], value: Any, at: tuple[str, ...] = ()) -> None:
    """Put `value` at the dotted `path` below `node`, which sits at `at` from the document's root. A path of
    more than MAX_DOTTED_PARTS parts stays one flat key."""
    if len(path) > MAX_DOTTED_PARTS:
        node[".".join(path)] = value
        return
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    name, here = path[-1], (*at, *path)
    if isinstance(value, Mapping) and not (len(here) > len(_BODIES) and here[: len(_BODIES)] == _BODIES):
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        for key, inner in value.items():  # a nested object may hold dotted names too
            _merge(child, str(key).split("."), inner, here)
    else:
        node[name] = value  # a body given as an object keeps its own names, dotted ones included


def record_from_ecs(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The CloudTrail record an Elastic integration document was made from, as far as the document keeps
    it; None when it is not such a document or lacks what names an API call (event.provider, event.action)."""
    if not looks_like_ecs(doc):
        return None
    trail = _dict(_dict(doc.get("aws")).get("cloudtrail"))
    event = _dict(doc.get("event"))
    if not isinstance(event.get("provider"), str) or not isinstance(event.get("action"), str):
        return None
    user = _dict(doc.get("user"))
    record: dict[str, Any] = {}
    _put(record, "eventVersion", trail.get("event_version"))
    identity = _identity(_dict(trail.get("user_identity")), user, _dict(_dict(doc.get("cloud")).get("account")))
    if identity:
        record["userIdentity"] = identity
    _put(record, "eventTime", _cloudtrail_time(doc.get("@timestamp")))
    record["eventSource"] = event["provider"]
    record["eventName"] = event["action"]
    _put(record, "awsRegion", _dict(doc.get("cloud")).get("region"))
    source = _dict(doc.get("source"))
    _put(record, "sourceIPAddress", source.get("address") or source.get("ip"))
    _put(record, "userAgent", _dict(doc.get("user_agent")).get("original"))
    flattened = _dict(trail.get("flattened"))
    for ecs_name, name in _FLATTENED:
        _put(record, name, flattened.get(ecs_name))
    for ecs_name, name in _TOP_LEVEL:
        if ecs_name != "event_version":
            _put(record, name, trail.get(ecs_name))
    _put(record, "eventID", event.get("id"))
    resources = trail.get("resources")
    if isinstance(resources, Mapping):
        resources = _resource_columns(resources)
    if isinstance(resources, list):
        rebuilt = []
        for item in resources:
            if isinstance(item, Mapping):
                one: dict[str, Any] = {}
                _put(one, "accountId", item.get("account_id"))
                _put(one, "type", item.get("type"))
                _put(one, "ARN", item.get("arn"))
                if one:
                    rebuilt.append(one)
        if rebuilt:
            record["resources"] = rebuilt
    tls = _tls(_dict(doc.get("tls")))
    if tls:
        record["tlsDetails"] = tls
    record[REBUILT_MARK] = "elastic-ecs"
    return record


def _resource_columns(columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Elasticsearch's `fields` option returns an array of objects as one list per field (`resources.arn:
    [a, b]`, `resources.type: [x, y]`): zipped back when the lists line up; else each ARN alone, since
    which type or account went with which ARN is lost."""
    lists = {k: v if isinstance(v, list) else [v] for k, v in columns.items()}
    lengths = {len(v) for v in lists.values()}
    if len(lengths) == 1:
        return [dict(zip(lists, row, strict=True)) for row in zip(*lists.values(), strict=True)]
    return [{"arn": arn} for arn in lists.get("arn", [])]


def _identity(found: Mapping[str, Any], user: Mapping[str, Any], account: Mapping[str, Any]) -> dict[str, Any]:
    identity: dict[str, Any] = {}
    _put(identity, "type", found.get("type"))
    _put(identity, "principalId", user.get("id"))
    _put(identity, "arn", found.get("arn"))
    _put(identity, "accountId", account.get("id"))
    _put(identity, "accessKeyId", found.get("access_key_id"))
    session = _dict(found.get("session_context"))
    issuer_found = _dict(session.get("session_issuer"))
    if session:
        context: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        _put(attributes, "creationDate", _cloudtrail_time(session.get("creation_date")))
        _put(attributes, "mfaAuthenticated", session.get("mfa_authenticated"))
        if attributes:
            context["attributes"] = attributes
        if issuer_found:
            issuer: dict[str, Any] = {}
            for ecs_name, name in _ISSUER:
                _put(issuer, name, issuer_found.get(ecs_name))
            # the pipeline moves sessionIssuer.userName to user.name (an assumed role's identity has no
            # userName of its own)
            _put(issuer, "userName", user.get("name"))
            context["sessionIssuer"] = issuer
        if context:
            identity["sessionContext"] = context
    if not issuer_found:
        _put(identity, "userName", user.get("name"))
    _put(identity, "invokedBy", found.get("invoked_by"))
    return identity


def _tls(tls: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    protocol, version = tls.get("version_protocol"), tls.get("version")
    if isinstance(protocol, str) and isinstance(version, str) and protocol and version:
        details["tlsVersion"] = f"{protocol.upper()}v{version}"
    _put(details, "cipherSuite", tls.get("cipher"))
    _put(details, "clientProvidedHostHeader", _dict(tls.get("client")).get("server_name"))
    return details
