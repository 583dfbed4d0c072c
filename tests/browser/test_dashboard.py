"""The dashboard in Debian's Chromium: log in, posture, triage an alert, search events, open a host graph;
hostile strings from CloudTrail, host events and alerts render as inert text everywhere."""

from __future__ import annotations

import pytest

from tests.browser.conftest import XSS, LiveServer, Page, login, shot

pytestmark = pytest.mark.browser


def assert_inert(pg: Page) -> None:
    p = pg.page
    assert pg.dialogs == [], f"a dialog fired: {pg.dialogs}"
    assert p.evaluate("window.__pwned === undefined")
    assert p.locator("#xss-injected").count() == 0 and p.locator("#xss-bold").count() == 0
    assert p.locator("img").count() == 0
    assert p.locator("script:not([src])").count() == 0
    assert pg.csp_errors == [], pg.csp_errors


def test_login_and_posture(page: Page, live_server: LiveServer) -> None:
    p = page.page
    p.goto(f"{live_server.url}/posture")
    assert "/login" in p.url
    p.fill("input[name=username]", "admin")
    p.fill("input[name=password]", "wrong-password")
    p.click("button[type=submit]")
    assert "Invalid user name or password" in p.inner_text(".error")
    login(p, live_server.url)
    assert p.locator(".score").count() >= 2
    assert "cis-7.0" in p.inner_text(".scores")
    assert p.locator("svg.trend polyline").count() == 1
    changes = p.inner_text("#changes")
    assert "PASS" in changes and "FAIL" in changes and XSS[2] in changes  # shown as text
    p.locator("details.control").first.click()
    assert "Remediation" in p.inner_text("details.control[open]")
    shot(p, "posture")
    assert_inert(page)


def test_triage_an_alert(page: Page, live_server: LiveServer) -> None:
    p = page.page
    login(p, live_server.url)
    p.goto(f"{live_server.url}/alerts")
    rows = p.locator("table.alerts tbody tr")
    assert rows.count() == 6  # five single alerts and one group of three
    sev = [p.inner_text(f"table.alerts tbody tr:nth-child({i}) .badge") for i in range(1, 4)]
    assert sev[0] == "critical"
    grouped = p.locator("table.alerts tr", has_text="Console login without MFA")
    assert "×3" in grouped.inner_text()
    shot(p, "alerts")
    first = rows.first
    row_id = first.get_attribute("id")
    first.locator("button", has_text="Ack").click()
    p.locator(f"#{row_id} .badge.st-acknowledged").wait_for()
    shot(p, "alerts-after-ack")
    # the detail page: explanation, evidence, related, and suppression with a reason
    p.locator("table.alerts a", has_text="Console login").click()
    assert "login without MFA" in p.inner_text(".explanation")
    p.fill("input[name=reason]", "expected during the migration")
    p.locator("form.inline button", has_text="Suppress").click()
    p.wait_for_selector("#alert-actions .ok")
    assert "resolved" in p.inner_text("#alert-actions .ok")
    shot(p, "alert-detail")
    p.goto(f"{live_server.url}/alerts?status=all")
    assert_inert(page)
    assert any(x in p.inner_text("table.alerts") for x in XSS)


def test_bulk_triage_from_the_rules_table(page: Page, live_server: LiveServer) -> None:
    p = page.page
    login(p, live_server.url)
    p.goto(f"{live_server.url}/alerts?status=all")
    p.locator("details.by-rule summary").click()
    table = p.locator("table.by-rule")
    assert "rule-grouped" in table.inner_text() and "Console login without MFA" in table.inner_text()
    row = table.locator("tr", has_text="rule-3")
    assert "rule-3" in row.inner_text()
    row.locator("button", has_text="Resolve all").click()
    row.locator("button.confirm").wait_for()
    assert "Resolve 1 alert?" in row.inner_text()  # step one only counts
    row.locator("button.confirm").click()
    row.locator(".bulk .ok").wait_for()
    assert "1 alert resolved." in row.inner_text()
    shot(p, "alerts-bulk")
    p.goto(f"{live_server.url}/alerts?status=resolved")
    assert p.locator("table.alerts tbody tr", has_text="Because").count() >= 1
    p.goto(f"{live_server.url}/alerts?status=all")
    p.locator("details.by-rule summary").click()
    again = p.locator("table.by-rule tr", has_text="rule-3")
    again.locator("button", has_text="Resolve all").click()
    again.locator(".bulk .muted").wait_for()
    assert "Nothing to resolve." in again.inner_text()
    assert_inert(page)


def test_search_events(page: Page, live_server: LiveServer) -> None:
    p = page.page
    login(p, live_server.url)
    p.goto(f"{live_server.url}/events")
    assert "200 events" in p.inner_text("#events-results")
    p.fill("input[name=api]", "CreateUser")
    p.fill("input[name=region]", "eu-west-1")
    p.click("form.filters button[type=submit]")
    p.wait_for_url("**api=CreateUser**")
    p.locator("#events-results tbody tr").first.wait_for()
    rows = p.locator("#events-results tbody tr")
    assert 0 < rows.count() <= 50
    assert all("CreateUser" in rows.nth(i).inner_text() and "eu-west-1" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert "api=CreateUser" in p.url  # the search is a shareable URL
    shot(p, "events")
    assert_inert(page)
    assert any(x in p.inner_text("#events-results") for x in XSS)


def test_host_graph(page: Page, live_server: LiveServer) -> None:
    p = page.page
    login(p, live_server.url)
    p.goto(f"{live_server.url}/hosts")
    assert "web-1" in p.inner_text("main") and "audit" in p.inner_text("main")
    p.locator("a", has_text="Behaviour graph").first.click()
    p.locator("#graph .node").nth(5).wait_for()
    assert "nodes" in p.inner_text("#graph-status")
    assert p.locator("#graph .node.external").count() >= 2
    p.wait_for_timeout(800)  # let the layout settle for the screenshot
    p.locator("#graph .node circle").first.click()
    assert p.locator("#graph .node.hl").count() == 1 and p.locator("#graph .node.dim").count() > 0
    shot(p, "host-graph")
    labels = p.eval_on_selector_all("#graph text", "els => els.map(e => e.textContent)")
    assert any("<img" in t or "onerror" in t for t in labels) or any("img src" in t for t in labels)
    assert_inert(page)
    # a cluster: both hosts drawn together
    p.goto(f"{live_server.url}/hosts")
    for box in p.locator("input[name=pick]").all():
        box.check()
    p.click("#graph-selected")
    p.locator("#graph .node").nth(5).wait_for()
    assert "web-1" in p.inner_text("h1") and "web-2" in p.inner_text("h1")
    assert_inert(page)


def test_settings_and_token(page: Page, live_server: LiveServer) -> None:
    p = page.page
    login(p, live_server.url)
    p.goto(f"{live_server.url}/settings")
    p.fill("form.inline input[name=name]", "ci-token")
    p.locator("form.inline button", has_text="Create token").click()
    p.wait_for_selector("#token-result pre")
    assert p.inner_text("#token-result pre").startswith("cwt_")
    shot(p, "settings")
    assert_inert(page)
