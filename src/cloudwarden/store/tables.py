"""Imports every module that declares tables on `cloudwarden.store.state.Base`.

Add one import line per module that defines tables. Imports are guarded so a half-built subsystem never
stops the others from opening the store.
"""

from __future__ import annotations

import importlib

TABLE_MODULES = [
    "cloudwarden.compliance.store",
    "cloudwarden.detect.alert_store",
    "cloudwarden.detect.correlation_store",
    "cloudwarden.cloudtrail.checkpoint",
    "cloudwarden.server.auth_store",
    "cloudwarden.server.jobs",
    "cloudwarden.server.posture_store",
    "cloudwarden.server.agent_store",
    "cloudwarden.baseline.store",
    "cloudwarden.notify.store",
]

for _name in TABLE_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:  # a real missing dependency inside an existing module must surface
            raise
