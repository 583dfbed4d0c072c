"""AWS's published IP address ranges (`ip-ranges.json`): is an address one of AWS's own?

Rules need this to tell instance credentials used from an EC2 instance's public address, or from a NAT
gateway (AWS addresses), from the same credentials used elsewhere (the GuardDuty finding
InstanceCredentialExfiltration.OutsideAWS). AWS publishes its ranges at `DEFAULT_URL` and changes them
several times a week, so they are downloaded (`cloudwarden trail update-ranges`, and the server's daily job),
cached as a file in the home folder, and loaded for an ingest. Without the file, the rules that use them
behave as before (the derived field is absent).

`contains` is a binary search over merged IPv4 intervals (thousands of prefixes become a few hundred
intervals); IPv6 prefixes are few and checked one by one.
"""

from __future__ import annotations

import ipaddress
import os
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from cloudwarden.errors import InputError

DEFAULT_URL = "https://ip-ranges.amazonaws.com/ip-ranges.json"
FILE_NAME = "aws-ip-ranges.json"
MAX_BYTES = 32 << 20  # the published file is about 2 MB; refuse anything far larger


class AwsRanges:
    def __init__(self, v4: list[tuple[int, int]], v6: list[ipaddress.IPv6Network], sync_token: str = "",
                 created: str = "") -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(v4):
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self._starts = [s for s, _e in merged]
        self._ends = [e for _s, e in merged]
        self._v6 = v6
        self.sync_token = sync_token
        self.created = created
        self.prefixes = len(v4) + len(v6)

    @classmethod
    def parse(cls, data: bytes, source: str) -> AwsRanges:
        """The ranges in AWS's `ip-ranges.json` format; InputError naming `source` when it is not that."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc}", source=source) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("prefixes"), list):
            raise InputError("not AWS's ip-ranges.json (no 'prefixes' list)", source=source)
        v4: list[tuple[int, int]] = []
        v6: list[ipaddress.IPv6Network] = []
        for index, item in enumerate(doc["prefixes"]):
            prefix = item.get("ip_prefix") if isinstance(item, dict) else None
            try:
                net = ipaddress.IPv4Network(str(prefix))
            except ValueError as exc:
                raise InputError(f"prefixes[{index}]: not an IPv4 prefix: {prefix!r}", source=source) from exc
            v4.append((int(net.network_address), int(net.broadcast_address)))
        for index, item in enumerate(doc.get("ipv6_prefixes") or []):
            prefix = item.get("ipv6_prefix") if isinstance(item, dict) else None
            try:
                v6.append(ipaddress.IPv6Network(str(prefix)))
            except ValueError as exc:
                raise InputError(f"ipv6_prefixes[{index}]: not an IPv6 prefix: {prefix!r}", source=source) from exc
        if not v4:
            raise InputError("no IPv4 prefixes", source=source)
        return cls(v4, v6, str(doc.get("syncToken", "")), str(doc.get("createDate", "")))

    def contains(self, address: str) -> bool | None:
        """Whether `address` is in one of AWS's ranges; None when it is not an IP address (a service name)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if ip.version == 4:
            value = int(ip)
            i = bisect_right(self._starts, value) - 1
            return i >= 0 and value <= self._ends[i]
        return any(ip in net for net in self._v6)


def load(path: Path) -> AwsRanges | None:
    """The cached ranges, or None when there is no file; InputError when the file is not usable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", source=str(path)) from exc
    return AwsRanges.parse(data, str(path))


def download(path: Path, url: str = DEFAULT_URL, timeout: float = 30.0) -> AwsRanges:
    """Fetch the ranges from `url`, check them, and replace the cached file atomically."""
    import urllib.request  # only here: the module is imported by every detector, which never downloads

    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise InputError("only https URLs (or a loopback test server) are fetched", source=url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            data = response.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot download: {exc}", source=url) from exc
    if len(data) > MAX_BYTES:
        raise InputError(f"larger than {MAX_BYTES} bytes", source=url)
    ranges = AwsRanges.parse(data, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return ranges


_active: AwsRanges | None = None


def active() -> AwsRanges | None:
    """The ranges the running ingest loaded (read by the derived detection field), or None."""
    return _active


@contextmanager
def activated(ranges: AwsRanges | None) -> Iterator[None]:
    """Make `ranges` the active ones while the block runs (worker processes forked inside inherit them)."""
    global _active
    previous, _active = _active, ranges
    try:
        yield
    finally:
        _active = previous
