"""Learned behaviour baselines for cloud principals and hosts (Polygraph-like).

`engine.Baseline` is the facade: `update(api_events, host_events) -> list[Alert]`, `feedback(...)`,
`status()`, persisted by `store.BaselineStore`. Cores (`cloud.py`, `host.py`, `peers.py`, `scoring.py`)
are pure: they take records and return anomalies with their reasons.
"""
