"""The "SSH or RDP opened to the whole internet" rule judges each permission entry on its own: random requests
of 1-3 entries (ports, protocols, CIDRs, key orders, hostile descriptions) against a plain-Python oracle."""

from __future__ import annotations

import random
from typing import Any

from cloudwarden.detect.engine import builtin_rules_path, load_rules

RULE_ID = "9b1ad0b0-5d18-5486-8056-f4afa0e74553"
RULESET = load_rules([builtin_rules_path("cloudtrail") / "ec2_security_group_admin_port_open_to_internet.yml"])
WORLD4, WORLD6 = "0.0.0.0/0", "::/0"
CIDRS4 = [WORLD4, "10.0.0.0/8", "203.0.113.7/32", "0.0.0.0/1"]
CIDRS6 = [WORLD6, "2001:db8::/32"]
PORTS = [(22, 22), (3389, 3389), (443, 443), (0, 10), (20, 25), (3000, 4000), (0, 65535), (23, 3388), (-1, -1), (80, 80)]
HOSTILE = '"fromPort":22,"toPort":22,"cidrIp":"0.0.0.0/0","ipProtocol":"-1"'


def _entry(rng: random.Random) -> tuple[dict[str, Any], bool]:
    proto = rng.choice(["tcp", "tcp", "udp", "-1"])
    lo, hi = rng.choice(PORTS)
    v4 = rng.sample(CIDRS4, rng.randint(0, 2))
    v6 = rng.sample(CIDRS6, rng.randint(0, 1))
    desc = HOSTILE if rng.random() < 0.3 else ""
    e: dict[str, Any] = {
        "ipProtocol": proto, "fromPort": lo, "toPort": hi, "groups": {},
        "ipRanges": {"items": [{"cidrIp": c, **({"description": desc} if desc else {})} for c in v4]} if v4 else {},
        "ipv6Ranges": {"items": [{"cidrIpv6": c} for c in v6]} if v6 else {}, "prefixListIds": {},
    }
    if rng.random() < 0.3:
        e = dict(sorted(e.items()))  # another producer's key order
    world = WORLD4 in v4 or WORLD6 in v6
    admin = proto == "-1" or any(lo <= port <= hi for port in (22, 3389))
    return e, world and admin


def _event(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress", "eventID": "e1",
            "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": entries}}}


def test_rule_agrees_with_a_per_entry_oracle() -> None:
    rng = random.Random(7)
    mixed = 0
    for _ in range(1500):
        pairs = [_entry(rng) for _ in range(rng.randint(1, 3))]
        expected = any(open_ for _e, open_ in pairs)
        got = any(m.rule.id == RULE_ID for m in RULESET.match(_event([e for e, _o in pairs])))
        assert got == expected, pairs
        mixed += not expected and len(pairs) > 1
    assert mixed > 100  # plenty of requests mixing an admin port in one entry with the world in another


def test_failed_calls_and_other_apis_do_not_match() -> None:
    entry = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": WORLD4}]}}
    assert RULESET.match(_event([entry]))
    assert not RULESET.match({**_event([entry]), "errorCode": "Client.UnauthorizedOperation"})
    assert not RULESET.match({**_event([entry]), "eventName": "RevokeSecurityGroupIngress"})
