"""Checks, one small module each, grouped by CIS section (iam, storage, logging, monitoring, networking)."""
