"""The host pipeline's correlation windows survive a server restart (HostIngest saves them to the state DB)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudwarden.detect.correlation_store import CorrelationStore
from cloudwarden.models.host_event import HostEvent
from cloudwarden.server.ingest import HOST_WINDOWS_KEY, HostIngest
from cloudwarden.store.state import open_store


def _failure(i: int) -> HostEvent:
    return HostEvent(event_id=f"f{i}", host_id="h1", hostname="web-1", time=2000.0 + i, source="auth", kind="auth",
                     action="login_failure", user="root", src_ip="198.51.100.9", success=False)


def _brute(alerts: list[Any]) -> list[Any]:
    return [a for a in alerts if a.title == "SSH brute force"]


def test_bruteforce_split_across_a_restart_fires_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = HostIngest(open_store(url), None, alert_sink=lambda a: None)
    assert not _brute(first.detect([_failure(i) for i in range(6)]))
    first.save_windows()
    assert CorrelationStore(first.state).load(HOST_WINDOWS_KEY) is not None

    restarted = HostIngest(open_store(url), None, alert_sink=lambda a: None)
    alerts = _brute(restarted.detect([_failure(i) for i in range(4, 10)]))  # 4 and 5 resent: counted once
    assert len(alerts) == 1 and alerts[0].count == 10

    forgetful = tmp_path / "other.db"  # control: no saved windows, the second half alone is not enough
    fresh = HostIngest(open_store(f"sqlite:///{forgetful}"), None, alert_sink=lambda a: None)
    assert not _brute(fresh.detect([_failure(i) for i in range(4, 10)]))


def test_corrupt_saved_windows_do_not_stop_the_server(tmp_path: Path) -> None:
    state = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    CorrelationStore(state).save(HOST_WINDOWS_KEY, b"\x00garbage")
    svc = HostIngest(state, None, alert_sink=lambda a: None)
    assert svc.detector is not None and svc.detector.restore_errors == 1
    assert len(_brute(svc.detect([_failure(i) for i in range(10)]))) == 1
