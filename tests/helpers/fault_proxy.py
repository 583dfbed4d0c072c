"""A tiny HTTP proxy on 127.0.0.1 in front of moto_server that answers chosen AWS operations with an
error (AccessDenied, Throttling, ExpiredToken ...) in the wire format of that protocol, and forwards
everything else. This is how tests make the real boto3 client path meet faults moto cannot produce.

    with FaultProxy(moto.url, [Fault("GetAccountAuthorizationDetails", "AccessDenied")]) as proxy:
        scan(ScanOptions(endpoint_url=proxy.url, ...))
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    operation: str  # API operation name (e.g. "ListAnalyzers"), or "*" for every request
    code: str = "AccessDenied"
    status: int = 403
    message: str = "injected by the test fault proxy"
    times: int | None = None  # answer with the fault this many times, then forward; None = always
    path_contains: str = ""  # REST APIs: match on the URL path instead of the operation name
    body_contains: str = ""  # only requests whose body contains this (e.g. a RoleArn)
    hits: int = field(default=0, init=False)


def _operation(path: str, headers: Any, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if body:
        params = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
        if "Action" in params:
            return params["Action"][0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if "Action" in query:
        return query["Action"][0]
    return ""


def _error_body(headers: Any, body: bytes, code: str, message: str) -> tuple[bytes, str]:
    if headers.get("X-Amz-Target") or "json" in str(headers.get("Content-Type", "")) or not body:
        return json.dumps({"__type": code, "message": message, "Message": message}).encode(), "application/x-amz-json-1.1"
    text = body.decode("utf-8", errors="replace")
    if "Version=2016-11-15" in text:  # EC2's own error shape
        xml = f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>t</RequestID></Response>"
    else:
        xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
               f"<RequestId>t</RequestId></ErrorResponse>")
    return xml.encode(), "text/xml"


class FaultProxy:
    def __init__(self, upstream: str, faults: list[Fault]) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.faults = faults
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                op = _operation(self.path, self.headers, body)
                fault = proxy._match(op, self.path, body)
                if fault is not None:
                    payload, ctype = _error_body(self.headers, body, fault.code, fault.message)
                    self.send_response(fault.status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("x-amzn-ErrorType", fault.code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _match(self, op: str, path: str, body: bytes) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.path_contains:
                    if f.path_contains not in path:
                        continue
                elif f.operation not in ("*", op):
                    continue
                if f.body_contains and f.body_contains.encode() not in urllib.parse.unquote_to_bytes(body):
                    continue
                if f.times is not None and f.hits >= f.times:
                    continue
                f.hits += 1
                return f
        return None

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
