"""One error hierarchy for the whole product.

Every error carries where it came from (a file and line, a resource ARN, a rule id) so that a message
shown to a person can always name the thing to look at.
"""

from __future__ import annotations


class CloudwardenError(Exception):
    """Root of every error cloudwarden raises on purpose."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


class ConfigError(CloudwardenError):
    """Settings are missing or invalid (cloudwarden.toml, environment variables, CLI options)."""


class StoreError(CloudwardenError):
    """The state database or the event lake could not be read or written."""


class AwsError(CloudwardenError):
    """An AWS call failed in a way that stops the current unit of work."""


class CredentialsError(AwsError):
    """No usable AWS credentials, or they are invalid or expired."""


class CollectionError(AwsError):
    """A collector could not fetch something; checks that need it become NOT_EVALUATED."""


class InputError(CloudwardenError):
    """Bad input data (a CloudTrail file, an audit log, an agent batch); source names file:line or field."""


class SourceUnavailable(CloudwardenError):
    """An input could not be read right now (S3 error, permission denied): retried later, never skipped."""


class RuleError(CloudwardenError):
    """A detection rule cannot be parsed or is not supported; source names the rule file or id."""


class AuthError(CloudwardenError):
    """Authentication or authorisation failed (users, API tokens, agent tokens)."""


class AgentError(CloudwardenError):
    """The host agent cannot use an event source or ship its spool."""
