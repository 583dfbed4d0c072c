"""Compliance: collect an inventory once, evaluate many pure checks, map results onto frameworks."""
