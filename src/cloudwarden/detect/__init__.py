"""The one detection engine for cloud and host events: Sigma rules compiled to Python closures,
indexed by their equality conditions, plus correlation rules, alert grouping, suppressions and OCSF output."""
