"""Sessions and clients for one AWS account.

Every client of a scan comes from one `AwsSession`, so every client gets the same settings: the
`--endpoint-url` override (moto_server, LocalStack), botocore adaptive retries (client-side rate limiting
that backs off on throttling, which is what lets 100+ accounts x 17 regions run without failing), connect
and read timeouts, and a connection pool sized to the scan's concurrency. Clients are cached per
(service, region): boto3 clients are thread-safe once built, but building them is not, hence the lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from cloudwarden.compliance.collectors.base import RequestCounter
from cloudwarden.errors import CredentialsError

DEFAULT_REGION = "us-east-1"
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
MAX_ATTEMPTS = 10

# Error codes that mean "these credentials will never work", as opposed to a permission problem.
_BAD_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "RequestExpired",
        "AuthFailure",
        "AccessDenied",
    }
)


def client_config(max_workers: int) -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        # A pool smaller than the number of threads using a client makes urllib3 discard connections.
        max_pool_connections=max(10, max_workers),
        user_agent_extra="cloudwarden",
    )


def _no_retry_on_html_error_page(response: Any = None, **_: Any) -> None:
    """AWS answers API errors in XML or JSON. An HTML 5xx page comes from an emulator or proxy that does
    not implement the API (moto_server, LocalStack): retrying it ten times with backoff only wastes half
    a minute per call, so it is marked 501 (not transient) and fails at once as ApiUnavailable."""
    if not isinstance(response, tuple) or not response or response[0] is None:
        return
    http = response[0]
    if getattr(http, "status_code", 0) < 500:
        return  # only error pages are inspected: a successful (possibly streaming) body is never touched
    try:
        body = http.content[:64].lstrip().lower()
    except Exception:  # noqa: BLE001 - an unreadable error body: leave the decision to botocore
        return
    if body.startswith((b"<!doctype html", b"<html")):
        http.status_code = 501


@dataclass(frozen=True)
class CallerIdentity:
    account_id: str
    arn: str
    user_id: str


@functools.cache
def _shared_loader() -> Any:
    """One botocore data loader for the process: service models are parsed once, not once per session
    (a fresh session spends ~35 ms per client re-reading JSON models; an Organization scan makes
    thousands of clients)."""
    return botocore.loaders.create_loader()


class AwsSession:
    """One account's boto3 session plus the scan-wide client settings.

    Sessions for assumed roles (`assume_role`) share their parent's botocore session, client settings,
    counter and lock, and pass the temporary credentials to each client they build, so per-account cost
    is the clients themselves, not re-loading botocore."""

    session: boto3.Session
    profile: str | None
    endpoint_url: str | None
    max_workers: int
    config: Config
    counter: RequestCounter | None
    default_region: str
    _lock: threading.Lock
    _clients: dict[tuple[str, str], Any]

    def __init__(
        self,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
        max_workers: int = 16,
        counter: RequestCounter | None = None,
        region: str | None = None,
        parent: AwsSession | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self._creds: dict[str, Any] = {}
        if parent is not None:
            self.profile, self.endpoint_url, self.max_workers = parent.profile, parent.endpoint_url, parent.max_workers
            self.counter, self.session, self.config = parent.counter, parent.session, parent.config
            self.default_region = region or parent.default_region
            self._lock = parent._lock
            self._clients = {}
            if credentials is not None:
                self._creds = {
                    "aws_access_key_id": credentials["AccessKeyId"],
                    "aws_secret_access_key": credentials["SecretAccessKey"],
                    "aws_session_token": credentials.get("SessionToken"),
                }
            return
        self.profile = profile or None
        self.endpoint_url = endpoint_url or None
        self.max_workers = max_workers
        self.counter = counter
        core = botocore.session.Session()
        core.register_component("data_loader", _shared_loader())
        try:
            self.session = boto3.Session(botocore_session=core, profile_name=self.profile, region_name=region)
            if self.profile and self.profile not in self.session.available_profiles:
                raise botocore.exceptions.ProfileNotFound(profile=self.profile)
            self.default_region = self.session.region_name or DEFAULT_REGION
        except botocore.exceptions.ProfileNotFound as exc:
            raise CredentialsError(f"AWS profile {profile!r} not found", source="--profile") from exc
        if credentials is not None:
            self._creds = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials.get("SessionToken"),
            }
        self.config = client_config(max_workers)
        self._clients = {}
        self._lock = threading.Lock()
        if counter is not None:
            self.session.events.register("before-call", self._count)
        # On a node deeper than botocore's own retry handler ("needs-retry.<service>"), so it runs first.
        self.session.events.register_first("needs-retry.*.*", _no_retry_on_html_error_page)

    def _count(self, model: Any = None, **_: Any) -> None:
        if self.counter is not None and model is not None:
            self.counter.record(model.service_model.service_name, model.name)

    def new_client(self, service: str, region: str | None = None) -> Any:
        """An uncached client: the runner gives each collector task its own, freed when the task ends, so
        memory follows the number of tasks in flight rather than accounts x regions x services."""
        with self._lock:  # building clients from one botocore session is not thread-safe
            return self.session.client(  # type: ignore[call-overload]
                service, region_name=region or self.default_region, endpoint_url=self.endpoint_url,
                config=self.config, **self._creds
            )

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or self.default_region
        key = (service, region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self.session.client(  # type: ignore[call-overload]
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self.config, **self._creds
                )
                self._clients[key] = found
            return found

    def caller_identity(self) -> CallerIdentity:
        """sts:GetCallerIdentity, turning every credential problem into one clear CredentialsError."""
        try:
            # Its own client with few retries: an unreachable endpoint or bad credentials should be reported in
            # seconds, not after the scan's ten adaptive retries (about half a minute).
            with self._lock:
                sts = self.session.client(  # type: ignore[call-overload]
                    "sts", region_name=self.default_region, endpoint_url=self.endpoint_url,
                    config=self.config.merge(Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)),
                    **self._creds,
                )
            resp = sts.get_caller_identity()
        except botocore.exceptions.NoCredentialsError as exc:
            raise CredentialsError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use --profile, "
                "or run where an instance/container role is available",
                source="credentials",
            ) from exc
        except (botocore.exceptions.PartialCredentialsError, botocore.exceptions.CredentialRetrievalError) as exc:
            raise CredentialsError(f"AWS credentials are incomplete or unreadable: {exc}", source="credentials") from exc
        except botocore.exceptions.TokenRetrievalError as exc:
            raise CredentialsError(f"AWS SSO token expired or missing: {exc}", source="credentials") from exc
        except botocore.exceptions.ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            if code in _BAD_CREDENTIAL_CODES:
                word = "expired" if "Expired" in code else "invalid"
                raise CredentialsError(
                    f"AWS credentials are {word} ({code}: {err.get('Message', '')})", source="sts:GetCallerIdentity"
                ) from exc
            raise CredentialsError(f"cannot verify AWS credentials: {code}: {err.get('Message', '')}",
                                   source="sts:GetCallerIdentity") from exc
        except botocore.exceptions.EndpointConnectionError as exc:
            raise CredentialsError(f"cannot reach the AWS endpoint to verify credentials: {exc}",
                                   source="sts:GetCallerIdentity") from exc
        return CallerIdentity(str(resp["Account"]), str(resp["Arn"]), str(resp.get("UserId", "")))

    def assume_role(self, role_arn: str, session_name: str = "cloudwarden-scan") -> AwsSession:
        """A session for another account through sts:AssumeRole, sharing this one's settings and counter."""
        resp = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600)
        return AwsSession(parent=self, credentials=resp["Credentials"])
