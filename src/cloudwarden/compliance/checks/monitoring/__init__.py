"""CIS monitoring section checks, one small module per check (or tiny family)."""
