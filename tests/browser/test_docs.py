"""/docs in Debian's Chromium: the vendored Swagger UI renders every operation from /openapi.json under the
app's strict CSP (no inline script), loads nothing from other origins, and "Try it out" works with the
session cookie, including a state-changing call (the page adds the CSRF header)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import LiveServer, Page, login, shot

pytestmark = pytest.mark.browser


def _execute(p: Any, op_id: str, params: dict[str, str] | None = None) -> str:
    op = p.locator(f"#{op_id}")
    op.locator(".opblock-summary").first.click()
    op.locator("button.try-out__btn").click()
    for name, value in (params or {}).items():
        op.locator(f"tr[data-param-name='{name}'] input").fill(value)
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    return str(status.inner_text()).strip()


def test_swagger_ui_renders_and_tries_calls(page: Page, live_server: LiveServer) -> None:
    p = page.page
    requests: list[str] = []
    p.on("request", lambda r: requests.append(r.url))
    failed: list[str] = []
    p.on("requestfailed", lambda r: failed.append(r.url))
    login(p, live_server.url)
    p.goto(f"{live_server.url}/docs")
    p.locator(".opblock").first.wait_for(timeout=15_000)
    spec = p.evaluate("fetch('/openapi.json').then(r => r.json())")
    n_ops = sum(len(ops) for ops in spec["paths"].values())
    assert p.locator(".opblock").count() == n_ops >= 40
    tags = {t["name"] for t in spec["tags"]}
    assert {"alerts", "compliance", "identity", "rules"} <= tags
    for tag in tags:
        assert p.locator(f"#operations-tag-{tag}").count() == 1
    assert "/api/v1/alerts/{alert_id}/ack" in p.inner_text("#swagger-ui")
    shot(p, "docs")

    # a read with the session cookie
    assert _execute(p, "operations-identity-me_api_v1_me_get") == "200"
    assert '"user": "admin"' in p.inner_text("#operations-identity-me_api_v1_me_get .live-responses-table")
    # a write: without the CSRF header the server would answer 403
    assert _execute(p, "operations-alerts-alert_ack_api_v1_alerts__alert_id__ack_post", {"alert_id": "1"}) == "200"
    assert (live_server.ctx.alerts.get(1) or {}).get("status") == "acknowledged"
    shot(p, "docs-try-it-out")

    origin = urlsplit(live_server.url).netloc
    external = [u for u in requests if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != origin]
    assert external == [], external
    assert failed == [], failed
    assert page.csp_errors == [], page.csp_errors
    assert p.locator("script:not([src])").count() == 0
    assert page.dialogs == []


def test_docs_page_needs_login(page: Page, live_server: LiveServer) -> None:
    p = page.page
    p.goto(f"{live_server.url}/docs")
    assert "/login" in p.url
