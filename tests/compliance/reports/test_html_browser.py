"""The HTML report in a real browser (Debian's Chromium via Playwright): filters work, hostile resource
names stay inert, and the page makes no network request."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.report import build_report, write_reports
from tests.compliance.reports.sample import bucket, make_scan, r, sg

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=2</script>", '"><svg onload="window.__pwned=3">']


@pytest.mark.browser
def test_report_filters_and_stays_inert_in_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    results = make_scan().results
    for i, payload in enumerate(HOSTILE):
        results.append(r("s3_bucket_public_access_block", Status.FAIL, bucket(f"evil-{i}{payload}"), f"public {payload}"))
    results.append(r("ec2_sg_ssh_open", Status.FAIL, sg("sg-eu", "eu-west-1"), "22 open", "eu-west-1"))
    path = tmp_path / "report.html"
    write_reports(build_report(make_scan(results=results)), {"html": path})

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.on("request", lambda req: requests.append(req.url))
            page.goto(path.as_uri())
            assert page.evaluate("window.__pwned") is None
            findings = page.locator("#findings tr.row")
            total = findings.count()
            assert total == len(results)

            def visible() -> int:
                return int(page.evaluate("Array.from(document.querySelectorAll('#findings tr.row')).filter(r => !r.hidden).length"))

            page.select_option("#f-status", "FAIL")
            assert visible() == sum(1 for x in results if x.status is Status.FAIL)
            page.select_option("#f-severity", "critical")
            assert visible() == 1 + len(HOSTILE)  # the S3 check is critical
            page.select_option("#f-severity", "")
            page.select_option("#f-region", "eu-west-1")
            assert visible() == 1
            page.select_option("#f-region", "")
            page.select_option("#f-section", "cis-7.0:3")
            assert visible() == 1 + len(HOSTILE)
            page.select_option("#f-section", "")
            page.select_option("#f-status", "")
            page.fill("#f-text", "user/alice")
            assert visible() == 1
            assert "1 of" in (page.text_content("#f-count") or "")
            page.fill("#f-text", "")
            assert visible() == total
            # the hostile names are shown as text
            assert HOSTILE[1] in (page.text_content("#findings") or "")
            assert page.evaluate("window.__pwned") is None
            pdf = page.pdf(format="A4", landscape=True)
            assert pdf[:4] == b"%PDF" and len(pdf) > 10_000
        finally:
            browser.close()
    assert requests == [path.as_uri()]  # self-contained: nothing else was fetched
