"""Open a real report in headless Chromium: every chart decodes, the tables are there.

Skips, with its reason, only where Chromium or Playwright is not installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.report import html as report
from tests.test_aggregate import write_hand_made

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip("no Chromium installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def page_of_report(tmp_path_factory: pytest.TempPathFactory) -> Any:
    executable = chromium()
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright for Python is not installed")
    run_dir = tmp_path_factory.mktemp("browser")
    write_hand_made(run_dir / "results.json", host_hostname="<img src=x onerror=alert(1)>")
    index = report.write_report(run_dir, run_dir)  # before the browser starts any thread
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(index.as_uri())
            page.wait_for_load_state("load")
            yield page, requests, errors
        finally:
            browser.close()


def test_every_chart_decoded(page_of_report: Any) -> None:
    page, _, _ = page_of_report
    images = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => ({src: i.src.slice(0, 22), complete: i.complete,"
               " width: i.naturalWidth, height: i.naturalHeight}))")
    assert len(images) == 9  # the four workloads' verdicts, then five charts
    for img in images:
        assert img["src"] == "data:image/png;base64,"
        assert img["complete"]
        assert img["width"] > 0
        assert img["height"] > 0


def test_tables_and_sections_are_there(page_of_report: Any) -> None:
    page, _, _ = page_of_report
    rows = page.locator("table#summary tbody tr")
    assert rows.count() == 19
    assert page.locator("table#summary tbody tr.unstable").count() == 1
    assert page.locator("table#host tbody tr").count() > 5
    assert page.locator("#decisions li").count() == 4
    assert page.locator("#findings li").count() >= 5
    assert "are stable" in page.locator("#precision").inner_text()


def test_nothing_fetched_and_metadata_shown_as_text(page_of_report: Any) -> None:
    page, requests, errors = page_of_report
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert errors == []
    host_text = page.locator("table#host").inner_text()
    assert "<img src=x onerror=alert(1)>" in host_text  # shown as text, not an element
    assert page.locator("table#host img").count() == 0
