"""CIS IAM section checks (v7.0 section 2, v5.0/v3.0 section 1), one module per check or tiny family."""
