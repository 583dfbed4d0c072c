"""Offline IP -> (ASN name, country) from the data file the `geoip2fast` package ships.

No network lookups ever: only the packaged `geoip2fast-asn.dat.gz` is read (derived from MaxMind GeoLite2,
whose licence asks for attribution: "This product includes GeoLite2 data created by MaxMind"). When the
package or its file is missing, every lookup returns unknown values and the ASN/country features are
simply not used; nothing else changes.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

UNKNOWN = ""


@dataclass(frozen=True, slots=True)
class IpInfo:
    asn: str  # AS organisation name ("AMAZON-02"), "private", "aws-service" or "" when unknown
    country: str  # ISO 3166 alpha-2, or "" when unknown


PRIVATE = IpInfo("private", "")
AWS_SERVICE = IpInfo("aws-service", "")
NONE = IpInfo(UNKNOWN, UNKNOWN)


class GeoLookup(Protocol):
    def lookup(self, ip: str) -> IpInfo: ...


def classify_source(ip: str) -> IpInfo | None:
    """Answers that need no database: AWS service names, private and reserved addresses."""
    if not ip:
        return NONE
    if ip.endswith(".amazonaws.com") or ip == "AWS Internal":
        return AWS_SERVICE
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return NONE
    if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved:
        return PRIVATE
    return None


class StaticGeo:
    """A lookup from a CIDR table; used by tests and as the shape of any other source."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        self._nets = [(ipaddress.ip_network(cidr), IpInfo(asn, cc)) for cidr, (asn, cc) in table.items()]

    def lookup(self, ip: str) -> IpInfo:
        known = classify_source(ip)
        if known is not None:
            return known
        addr = ipaddress.ip_address(ip)
        for net, info in self._nets:
            if addr in net:
                return info
        return NONE


class PackagedGeo:
    """geoip2fast's packaged ASN file, loaded lazily once, with an LRU of answers."""

    def __init__(self, cache_size: int = 65536) -> None:
        self._db: Any = None
        self._failed = False
        self._cache: OrderedDict[str, IpInfo] = OrderedDict()
        self._cache_size = cache_size

    @property
    def available(self) -> bool:
        return self._load() is not None

    def _load(self) -> Any:
        if self._db is None and not self._failed:
            try:
                from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]

                self._db = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn.dat.gz", verbose=False)
            except Exception as exc:  # noqa: BLE001  (absent package or data file: degrade, never fail)
                log.warning("offline ASN/country lookups disabled: %s", exc)
                self._failed = True
        return self._db

    def lookup(self, ip: str) -> IpInfo:
        hit = self._cache.get(ip)
        if hit is not None:
            self._cache.move_to_end(ip)
            return hit
        known = classify_source(ip)
        db = self._load() if known is None else None
        info = known or NONE
        if db is not None:
            try:
                res = db.lookup(ip)
                cc = res.country_code if res.country_code and res.country_code != "--" else ""
                info = IpInfo(res.asn_name or "", cc)
            except Exception:  # noqa: BLE001  (a malformed address in input is just unknown)
                info = NONE
        self._cache[ip] = info
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return info


class NoGeo:
    def lookup(self, ip: str) -> IpInfo:
        known = classify_source(ip)
        return known if known is not None else NONE


def packaged_data_present() -> bool:
    """Whether the offline ASN file is installed (without loading it)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("geoip2fast")
    if spec is None or not spec.origin:
        return False
    return (Path(spec.origin).parent / "geoip2fast-asn.dat.gz").exists()


_DEFAULT: PackagedGeo | None = None


def default_geo() -> PackagedGeo:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PackagedGeo()
    return _DEFAULT


# Approximate country centroids (lat, lon) for impossible-travel distances; countries not listed are
# compared only for equality (concurrent logins), never for speed.
CENTROIDS: dict[str, tuple[float, float]] = {
    "US": (39.8, -98.6), "CA": (56.1, -106.3), "MX": (23.6, -102.5), "BR": (-14.2, -51.9), "AR": (-38.4, -63.6),
    "GB": (54.0, -2.0), "IE": (53.4, -8.2), "FR": (46.2, 2.2), "DE": (51.2, 10.4), "NL": (52.1, 5.3),
    "BE": (50.5, 4.5), "ES": (40.5, -3.7), "PT": (39.4, -8.2), "IT": (41.9, 12.6), "CH": (46.8, 8.2),
    "AT": (47.5, 14.6), "SE": (60.1, 18.6), "NO": (60.5, 8.5), "FI": (61.9, 25.7), "DK": (56.3, 9.5),
    "PL": (51.9, 19.1), "CZ": (49.8, 15.5), "RO": (45.9, 25.0), "UA": (48.4, 31.2), "LT": (55.2, 23.9),
    "RU": (61.5, 105.3), "TR": (39.0, 35.2), "IL": (31.0, 34.9), "AE": (23.4, 53.8), "IN": (20.6, 79.0),
    "CN": (35.9, 104.2), "HK": (22.3, 114.2), "JP": (36.2, 138.3), "KR": (35.9, 127.8), "SG": (1.35, 103.8),
    "AU": (-25.3, 133.8), "NZ": (-40.9, 174.9), "ZA": (-30.6, 22.9), "NG": (9.1, 8.7), "EG": (26.8, 30.8),
    "KP": (40.3, 127.5), "IR": (32.4, 53.7), "VN": (14.1, 108.3), "ID": (-0.8, 113.9), "TW": (23.7, 121.0),
}


def distance_km(a: str, b: str) -> float | None:
    """Great-circle distance between two countries' centroids, or None when either is unknown."""
    if a == b:
        return 0.0
    pa, pb = CENTROIDS.get(a), CENTROIDS.get(b)
    if pa is None or pb is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*pa, *pb))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
