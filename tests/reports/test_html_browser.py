"""The HTML report in real headless Chromium: loads offline, interacts, runs no trace content.

Needs Debian's chromium at /usr/bin/chromium (skipped with a reason when absent, except under
CI=true where its absence fails). One browser per module; screenshots go to tests/_artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentprof.reports import html_report

from . import profiles as P

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parents[1] / "_artifacts"

BAR_COUNT_JS = """() => document.getElementById('waterfall').data
    .filter(t => t.meta === 'spans').reduce((n, t) => n + t.x.length, 0)"""
HIGHLIGHT_JS = """() => document.getElementById('waterfall').data
    .filter(t => t.meta === 'highlight')[0].customdata === undefined
    ? document.getElementById('waterfall').data.filter(t => t.meta === 'highlight')[0].y.length
    : -1"""


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing under CI=true: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium) — browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A loaded report page that records console errors, requests and dialogs."""

    def __init__(self, browser, html: str, name: str, *, cdn_body: str | None = None):
        ARTIFACTS.mkdir(exist_ok=True)
        self.path = ARTIFACTS / f"{name}.html"
        self.path.write_text(html, encoding="utf-8")
        self.url = self.path.as_uri()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        if cdn_body is not None:
            # Serve the CDN script locally: the test checks the page's CDN wiring, offline.
            self.context.route("https://cdn.plot.ly/**", lambda route: route.fulfill(
                body=cdn_body, content_type="application/javascript"))
        page = self.page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.goto(self.url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)

    def close(self) -> None:
        self.context.close()


def test_three_run_report(browser):
    profile = P.three_run_profile()
    p = Page(browser, html_report.render(profile), "three_runs")
    page = p.page
    try:
        assert p.errors == []
        assert p.requests == [p.url]  # nothing but the file itself
        assert page.evaluate(BAR_COUNT_JS) == 12
        assert page.locator("#findings > li").count() == 4
        assert page.locator("#findings > li .code").all_text_contents() == \
            ["AP101", "AP202", "AP301", "AP203"]
        assert page.locator("#headline").text_content().count("$0.0483") == 1
        assert page.locator("#spans-body tr").count() == 12

        # Clicking a finding highlights its three tool calls and lists them.
        page.locator("#findings > li").first.click()
        assert page.evaluate(HIGHLIGHT_JS) == 3
        assert page.locator("#spans-body tr.hl").count() == 3
        assert page.locator("#findings > li.active .finding-spans li").all_text_contents() == [
            "execute_tool web_search (tool, 1.01 s)", "execute_tool fetch_page (tool, 870 ms)",
            "execute_tool fetch_page (tool, 1.12 s)"]
        page.locator("#clear-selection").click()
        assert page.evaluate(HIGHLIGHT_JS) == 0

        # The span explorer's search filters rows.
        page.fill("#span-search", "fetch_page")
        assert page.locator("#spans-body tr").count() == 2
        page.fill("#span-search", "example.org/b")  # matches an attribute value
        assert page.locator("#spans-body tr").count() == 1
        page.fill("#span-search", "")
        assert page.locator("#spans-body tr").count() == 12

        # The run picker switches the waterfall to another run.
        page.select_option("#run-picker", profile.runs[1].run_id)
        assert page.evaluate(BAR_COUNT_JS) == 4
        assert page.locator("#spans-body tr").count() == 4
        # A finding of the first run brings its run back.
        page.locator("#findings > li").nth(2).click()
        assert page.locator("#run-picker").input_value() == profile.runs[0].run_id
        assert page.evaluate(HIGHLIGHT_JS) == 1

        # Drawn, not blank: SVG bars exist (12 spans + the 1 highlighted) and the screenshot
        # has many colours.
        assert page.locator("#waterfall .point").count() == 13
        page.locator("#waterfall").scroll_into_view_if_needed()
        shot = page.screenshot(path=str(ARTIFACTS / "three_runs.png"))
        assert distinct_colours(page, shot) > 20
        assert p.errors == [] and p.dialogs == []
    finally:
        p.close()


def distinct_colours(page, png: bytes) -> int:
    """Distinct pixel colours of a screenshot, counted by the browser's own canvas."""
    import base64

    return page.evaluate("""async (src) => {
        const img = new Image(); img.src = src; await img.decode();
        const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < d.length; i += 16) seen.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]);
        return seen.size; }""", "data:image/png;base64," + base64.b64encode(png).decode())


def test_injection_runs_nothing(browser):
    p = Page(browser, html_report.render(P.injection_profile()), "injection")
    page = p.page
    try:
        # The hostile strings are shown, as text.
        cells = page.locator("#spans-body tr td.name").all_text_contents()
        assert P.XSS_SCRIPT in cells and P.XSS_CLOSE in cells
        assert P.XSS_SCRIPT in page.locator("#run-title").text_content()
        # Hover every bar so plotly renders every hover label, and click the finding.
        page.evaluate("""() => { const gd = document.getElementById('waterfall');
            gd.data.forEach((t, c) => t.x.forEach((_, i) =>
                Plotly.Fx.hover(gd, [{curveNumber: c, pointNumber: i}]))); }""")
        page.locator("#findings > li").first.click()
        page.fill("#span-search", "script")
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__pwned") is None
        assert p.dialogs == []
        assert p.errors == []
        assert p.requests == [p.url]
        assert page.evaluate("() => document.querySelectorAll('img, iframe, object').length") == 0
        assert page.evaluate("() => document.scripts.length") == 3
        assert page.locator("#findings > li.active .finding-spans li").count() == 2
    finally:
        p.close()


def test_large_inputs_stay_usable(browser):
    p = Page(browser, html_report.render(P.large_span_profile()), "large_spans")
    try:
        assert p.errors == [] and p.requests == [p.url]
        assert p.page.evaluate(BAR_COUNT_JS) == 400
        assert "Showing 400 of 5,001 spans" in p.page.locator("#waterfall-note").text_content()
        assert p.page.locator("#spans-body tr").count() == 500
        assert "5,001 of 5,001 spans (first 500 shown" in p.page.locator("#span-count").text_content()
        p.page.fill("#span-search", "tool_7")
        assert p.page.locator("#span-count").text_content().startswith("500 of 5,001 spans")
    finally:
        p.close()
    p = Page(browser, html_report.render(P.many_runs_profile()), "many_runs")
    try:
        assert p.errors == [] and p.requests == [p.url]
        assert p.page.locator("#run-picker option").count() == 20
        assert p.page.locator("#runs-table tbody tr").count() == 200
        assert p.page.locator("#wall-hist .point").count() > 10
    finally:
        p.close()


def test_cdn_variant_loads_plotly_from_the_cdn(browser):
    import plotly.offline

    p = Page(browser, html_report.render(P.three_run_profile(), plotly_cdn=True), "cdn",
             cdn_body=plotly.offline.get_plotlyjs())
    try:
        assert p.errors == []
        assert [u for u in p.requests if u != p.url] == [
            f"https://cdn.plot.ly/plotly-{plotly.offline.get_plotlyjs_version()}.min.js"]
        assert p.page.evaluate(BAR_COUNT_JS) == 12
    finally:
        p.close()
