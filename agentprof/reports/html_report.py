"""The HTML report: one self-contained file that opens offline in any browser.

The page holds the report data as JSON in ``<script type="application/json">`` and builds
its DOM from it with vanilla JavaScript (``_assets/report.js``); charts are plotly figures
built and validated here. plotly.js is embedded by default, so the file makes no network
request; ``plotly_cdn=True`` references it from the plotly CDN instead (a much smaller file).

A trace is untrusted and the file is shared, so the page is built to never run trace
content: the JSON is escaped for the script context (``<``, ``>``, ``&``, U+2028/9), the
script writes trace strings with ``textContent`` only, plotly strings are HTML-escaped in
``_html_data``, and a Content-Security-Policy forbids every network fetch.
"""

from __future__ import annotations

from typing import Final

from agentprof.profile import Profile

PLOTLY_CDN_HOST: Final = "https://cdn.plot.ly"

_CSP_BASE: Final = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'{cdn}; "
                    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
                    "connect-src 'none'; base-uri 'none'; form-action 'none'")
"""plotly.js compiles some functions at run time, hence 'unsafe-eval'; nothing may load."""

_SCRIPT_ESCAPES: Final = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                          "\u2028": "\\u2028", "\u2029": "\\u2029"}

_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>agentprof report</title>
<style>
{css}
</style>
</head>
<body>
<header>
<h1>agentprof report <span class="note" id="report-version"></span></h1>
<noscript><p class="warn">This report needs JavaScript to show its data.</p></noscript>
<dl class="headline" id="headline"></dl>
</header>
<main>
<section id="findings-section">
<h2 id="findings-title">Findings</h2>
<p class="note">Findings are sorted by estimated saving. Click one to highlight its spans in the
waterfall and the span explorer.</p>
<ol class="findings" id="findings"></ol>
</section>
<section id="runs-section" hidden>
<h2 id="runs-title">Across runs</h2>
<p id="success"></p>
<div id="dist"></div>
<div id="wall-hist" class="plot"></div>
<div id="alerts"></div>
<div id="tools"></div>
<h3>Runs</h3>
<div id="runs-table" class="scroll"></div>
</section>
<section id="run-section">
<h2>Run</h2>
<div class="controls" id="picker-box"><label for="run-picker">Run</label>
<select id="run-picker"></select></div>
<p id="run-title"></p>
<h3>Waterfall</h3>
<p class="note">Spans nested by parent, coloured by category; the critical path is opaque with a
red outline, selected spans are outlined in black. Click a bar to select its span.</p>
<p class="note" id="waterfall-note"></p>
<div id="waterfall" class="plot"></div>
<h3>Where the time went (critical path)</h3>
<p class="note">"LLM (not split)" is LLM time whose producer recorded no time to first token;
"Unattributed" is time no rule explains.</p>
<div id="components" class="plot"></div>
<h3>Steps</h3>
<div id="steps"></div>
<div class="two"><div id="buckets" class="plot"></div><div id="marginal" class="plot"></div></div>
<h3>Critical path</h3>
<div id="critical-path" class="scroll"></div>
<h3>Span explorer</h3>
<div class="controls">
<input id="span-search" type="search" placeholder="Filter spans: name, model, tool, attribute"
 aria-label="Filter spans">
<span id="span-count" class="note"></span>
<button id="clear-selection" type="button" hidden>Show all spans</button>
</div>
<p class="note" id="explorer-note"></p>
<div class="scroll">
<table id="spans"><thead><tr><th>span</th><th>category</th><th class="num">start</th>
<th class="num">duration</th><th class="num">self</th><th>status</th><th>model / tool</th>
<th class="num">tokens in / out</th><th class="num">cost</th><th>attributes</th></tr></thead>
<tbody id="spans-body"></tbody></table>
</div>
</section>
<section id="sources-section" hidden>
<h2>Input problems</h2>
<ul id="sources"></ul>
</section>
</main>
<footer>Made by agentprof from trace data; every value shown is read from the trace.</footer>
<script type="application/json" id="agentprof-data">{data}</script>
{plotly}
<script>
{js}
</script>
</body>
</html>
"""


def render(profile: Profile, *, plotly_cdn: bool = False) -> str:
    """The report of ``profile`` as one HTML document.

    Args:
        profile: The analysis to show.
        plotly_cdn: Load plotly.js from the plotly CDN instead of embedding it (about
            4.8 MB smaller; needs network when opened). Defaults to False.

    Returns:
        The HTML text; its UTF-8 size is what a caller writes to disk.
    """
    from agentprof.reports._html_data import build_payload, shared_template

    payload = build_payload(profile)
    payload["template"] = shared_template()
    if plotly_cdn:
        import plotly.offline

        url = f"{PLOTLY_CDN_HOST}/plotly-{plotly.offline.get_plotlyjs_version()}.min.js"
        plotly_tag = f'<script src="{url}" charset="utf-8"></script>'
        csp = _CSP_BASE.format(cdn=" " + PLOTLY_CDN_HOST)
    else:
        import plotly.offline

        plotly_tag = "<script>" + plotly.offline.get_plotlyjs() + "</script>"
        csp = _CSP_BASE.format(cdn="")
    return _PAGE.format(csp=csp, css=_asset("report.css"), data=script_json(payload),
                        plotly=plotly_tag, js=_asset("report.js"))


def script_json(data: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>``, ``<!--`` or line separators.

    The escapes are JSON string escapes, so ``JSON.parse`` of the element's text gives the
    data back unchanged.
    """
    from agentprof.reports.json_report import dumps

    text = dumps(data)
    for raw, escaped in _SCRIPT_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def extract_payload(page: str) -> dict:
    """The data embedded in a page made by ``render`` (for tests and tools)."""
    import json

    start_tag = '<script type="application/json" id="agentprof-data">'
    start = page.index(start_tag) + len(start_tag)
    return json.loads(page[start:page.index("</script>", start)])


def _asset(name: str) -> str:
    from importlib.resources import files

    return (files("agentprof.reports") / "_assets" / name).read_text(encoding="utf-8")
