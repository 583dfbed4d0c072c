"""cloudwarden: continuous security for an AWS estate (compliance, CloudTrail threats, host intrusion)."""

__version__ = "0.1.0"
