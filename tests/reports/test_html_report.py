"""HTML report without a browser: escaping, CSP, embedded data, figures, size bounds."""

from __future__ import annotations

import json
import re

import pytest

from agentprof.reports import _html_data, html_report

from . import profiles as P

ALLOWED_PLOTLY_TAGS = {"<br>", "<b>", "</b>", "<extra>", "</extra>"}


def figure_strings(fig: dict):
    """Every string plotly renders as HTML: trace name/text/hovertext/hovertemplate, ticks, titles."""
    for trace in fig["data"]:
        for key in ("name", "text", "hovertext", "hovertemplate", "y"):
            value = trace.get(key)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str):
                    yield v
    for axis in ("xaxis", "yaxis"):
        yield from fig["layout"].get(axis, {}).get("ticktext", [])
    title = fig["layout"].get("title", {})
    if title.get("text"):
        yield title["text"]


@pytest.fixture(scope="module")
def injection_page() -> str:
    return html_report.render(P.injection_profile())


@pytest.mark.parametrize("payload", P.PAYLOADS)
def test_script_json_is_inert_and_round_trips(payload):
    text = html_report.script_json({"s": payload, payload: [payload]})
    for ch in "<>&\u2028\u2029":
        assert ch not in text
    assert json.loads(text) == {"s": payload, payload: [payload]}


def test_injection_strings_never_appear_raw(injection_page):
    for payload in (P.XSS_SCRIPT, P.XSS_CLOSE, P.XSS_IMG, "<b>x</b>", "<!--"):
        assert payload not in injection_page
    assert injection_page.count("</script>") == 3  # data, plotly.js, report.js
    assert 'href="javascript' not in injection_page.lower()
    assert "<img" not in injection_page
    # ... yet the data the page shows is the trace's, unchanged.
    data = html_report.extract_payload(injection_page)
    spans = data["details"][P.injection_profile().runs[0].run_id]["spans"]
    assert spans[0]["cells"][0] == P.XSS_SCRIPT
    assert data["findings"][0]["message"] == "Tool failed: " + P.XSS_CLOSE


def test_plotly_strings_are_escaped(injection_page):
    data = html_report.extract_payload(injection_page)
    figures = [f for d in data["details"].values() for f in d["figures"].values()]
    seen = []
    for fig in figures:
        for s in figure_strings(fig):
            seen.append(s)
            assert set(re.findall(r"<[^>]*>", s)) <= ALLOWED_PLOTLY_TAGS, s
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in s for s in seen)
    assert any("&quot;&gt;&lt;img src=x onerror=" in s for s in seen)


def test_csp_forbids_network():
    page = html_report.render(P.three_run_profile())
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "http" not in csp
    # Embedded: no script or stylesheet is fetched from anywhere.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)


def test_cdn_variant_references_plotly_and_allows_only_its_host():
    page = html_report.render(P.three_run_profile(), plotly_cdn=True)
    srcs = re.findall(r'<script src="([^"]+)"', page)
    assert len(srcs) == 1 and srcs[0].startswith("https://cdn.plot.ly/plotly-")
    assert "script-src 'unsafe-inline' 'unsafe-eval' https://cdn.plot.ly;" in page
    assert len(page) < 200_000
    embedded = html_report.render(P.three_run_profile())
    assert len(embedded) > 4_000_000  # plotly.js itself is inside


def test_payload_golden(golden):
    data = _html_data.build_payload(P.three_run_profile())
    golden.check("three_runs.html-payload.json",
                 json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False))


def test_waterfall_figure_shape():
    profile = P.three_run_profile()
    run = profile.runs[0]
    fig = _html_data.build_payload(profile)["details"][run.run_id]["figures"]["waterfall"]
    bars = [t for t in fig["data"] if t["meta"] == "spans"]
    assert sum(len(t["x"]) for t in bars) == 12
    assert [t["name"] for t in bars] == ["agent", "step", "llm", "tool"]
    crit = {sid for t in bars for sid, w in zip(t["customdata"], t["marker"]["line"]["width"])
            if w > 0}
    assert crit == {s.span_id for s in run.spans if s.on_critical_path}
    tool = next(t for t in bars if t["name"] == "tool")
    # base = start in ms since run start; x = duration in ms (the parallel fetch at 6040 ms).
    i = tool["customdata"].index(f"{9:016x}")
    assert (tool["base"][i], tool["x"][i]) == (6040.0, 1120.0)
    assert fig["data"][-1]["meta"] == "highlight" and fig["data"][-1]["x"] == []


def test_large_profiles_render_bounded():
    big = html_report.render(P.large_span_profile())
    assert len(big.encode()) < 15_000_000
    data = html_report.extract_payload(big)
    detail = data["details"]["c" * 32]
    bars = sum(len(t["x"]) for t in detail["figures"]["waterfall"]["data"] if t["meta"] == "spans")
    assert bars == _html_data.MAX_WATERFALL_BARS
    assert detail["waterfall_note"].startswith("Showing 400 of 5,001 spans")
    assert len(detail["spans"]) == 5001

    many = html_report.render(P.many_runs_profile())
    assert len(many.encode()) < 15_000_000
    data = html_report.extract_payload(many)
    assert len(data["detail_run_ids"]) == 20 and data["runs_total"] == 2000
    assert len(data["runs"]) == _html_data.MAX_RUN_ROWS
    assert len(data["figures"]["wall_hist"]["data"][0]["x"]) == 2000


def test_render_is_deterministic():
    assert html_report.render(P.three_run_profile()) == html_report.render(P.three_run_profile())


def test_page_script_never_parses_data_as_html():
    from importlib.resources import files

    js = (files("agentprof.reports") / "_assets" / "report.js").read_text(encoding="utf-8")
    code = js.split("*/", 1)[1]  # past the header comment that names what is avoided
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "setAttribute", "new Function"):
        assert sink not in code
