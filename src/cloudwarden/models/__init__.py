"""Typed records shared across subsystems: API activity, host events, alerts."""
