/* agentprof HTML report. Every string from the trace reaches the page through textContent
   (never innerHTML); plotly figures arrive with their strings already HTML-escaped. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("agentprof-data").textContent);
  var MAX_ROWS = 500;
  var state = { run: null, selected: null, finding: null };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function table(headers, numeric) {
    var t = el("table"), thead = el("thead"), tr = el("tr");
    headers.forEach(function (h, i) { tr.appendChild(el("th", numeric[i] ? "num" : "", h)); });
    thead.appendChild(tr); t.appendChild(thead);
    var tbody = el("tbody"); t.appendChild(tbody);
    return { table: t, body: tbody,
      row: function (cells, cls) {
        var r = el("tr", cls || "");
        cells.forEach(function (c, i) { r.appendChild(el("td", numeric[i] ? "num" : "", c)); });
        tbody.appendChild(r); return r;
      } };
  }
  function plot(id, fig) {
    var node = $(id);
    if (!node || !fig) { return; }
    if (!window.Plotly) {
      clear(node); node.appendChild(el("p", "note", "Charts need plotly.js, which did not load."));
      return;
    }
    var layout = Object.assign({}, fig.layout, { template: DATA.template });
    window.Plotly.react(node, fig.data, layout,
      { displaylogo: false, responsive: true, typesetMath: false });
  }

  function renderHeadline() {
    var h = DATA.headline, t = h.text, dl = $("headline");
    function add(label, value, cls) { dl.appendChild(el("dt", "", label)); dl.appendChild(el("dd", cls, value)); }
    $("report-version").textContent = "agentprof " + DATA.version;
    add("Runs", h.run_count.toLocaleString("en-US") + " (" + h.ok_count.toLocaleString("en-US") +
        " ok, " + (h.run_count - h.ok_count).toLocaleString("en-US") + " failed)");
    add("Wall time", t.wall + (h.run_count > 1 ? " total · slowest " + t.slowest : ""));
    add("Cost", t.cost + "  (" + t.cost_sources + ")");
    if (h.unknown_models.length) {
      add("", "No price for " + h.unknown_models.slice(0, 5).join(", ") +
          ": the cost above leaves these calls out.", "warn");
    }
    add("Tokens", t.tokens);
    h.price_notes.slice(0, 3).forEach(function (n) { add("Prices", n, "note"); });
  }

  function renderFindings() {
    var ol = $("findings");
    $("findings-title").textContent = "Findings (" + DATA.findings.length + ")";
    if (!DATA.findings.length) { ol.appendChild(el("li", "", "No rule fired.")); return; }
    DATA.findings.forEach(function (f, i) {
      var li = el("li");
      li.dataset.index = String(i);
      li.tabIndex = 0;
      var head = el("div");
      head.appendChild(el("span", "code", f.code));
      head.appendChild(el("span", "sev sev-" + (["high", "medium", "low", "info"].indexOf(f.severity) >= 0 ? f.severity : "info"), f.severity));
      head.appendChild(el("span", "", f.name));
      if (f.saving_text !== "—") { head.appendChild(el("span", "saving", "  saves " + f.saving_text)); }
      if (DATA.runs_total > 1 && f.run_id) {
        head.appendChild(el("span", "note", "  run " + f.run_id.slice(0, 8) +
          (DATA.details[f.run_id] ? "" : " (no span detail kept)")));
      }
      li.appendChild(head);
      li.appendChild(el("p", "msg", f.message));
      li.appendChild(el("p", "sugg", "→ " + f.suggestion));
      li.appendChild(el("ul", "finding-spans"));
      li.addEventListener("click", function () { selectFinding(i); });
      li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { selectFinding(i); } });
      ol.appendChild(li);
    });
  }

  function spanById(id) {
    var d = DATA.details[state.run];
    if (!d) { return null; }
    if (!d._byId) { d._byId = {}; d.spans.forEach(function (s) { d._byId[s.id] = s; }); }
    return d._byId[id] || null;
  }

  function selectFinding(i) {
    var f = DATA.findings[i];
    if (f.run_id && DATA.details[f.run_id] && f.run_id !== state.run) { showRun(f.run_id); }
    state.finding = i;
    select(f.span_ids, f.code);
    var items = $("findings").children;
    for (var k = 0; k < items.length; k++) {
      items[k].classList.toggle("active", k === i);
      var ul = items[k].querySelector("ul.finding-spans");
      if (ul) { clear(ul); }
    }
    var list = items[i].querySelector("ul.finding-spans");
    f.span_ids.forEach(function (id) {
      var s = spanById(id);
      list.appendChild(el("li", "", s ? s.cells[0] + " (" + s.cells[1] + ", " + s.cells[3] + ")" : "span " + id));
    });
  }

  function select(ids, label) {
    state.selected = ids && ids.length ? { ids: new Set(ids), label: label } : null;
    $("clear-selection").hidden = !state.selected;
    highlightWaterfall();
    renderExplorer();
  }

  function highlightWaterfall() {
    var gd = $("waterfall");
    if (!window.Plotly || !gd || !gd.data) { return; }
    var xs = [], ys = [], bases = [], hIndex = -1;
    gd.data.forEach(function (tr, t) {
      if (tr.meta === "highlight") { hIndex = t; return; }
      if (tr.meta !== "spans" || !state.selected) { return; }
      for (var j = 0; j < tr.customdata.length; j++) {
        if (state.selected.ids.has(tr.customdata[j])) {
          xs.push(tr.x[j]); ys.push(tr.y[j]); bases.push(tr.base[j]);
        }
      }
    });
    if (hIndex >= 0) { window.Plotly.restyle(gd, { x: [xs], y: [ys], base: [bases] }, [hIndex]); }
  }

  function renderExplorer() {
    var d = DATA.details[state.run], body = $("spans-body");
    clear(body);
    if (!d) { $("span-count").textContent = ""; return; }
    var q = $("span-search").value.trim().toLowerCase();
    var shown = 0, matches = 0;
    d.spans.forEach(function (s) {
      if (state.selected && !state.selected.ids.has(s.id)) { return; }
      if (q) {
        if (!s._hay) { s._hay = s.cells.join(" ").toLowerCase(); }
        if (s._hay.indexOf(q) < 0) { return; }
      }
      matches++;
      if (shown >= MAX_ROWS) { return; }
      shown++;
      var cls = (s.crit ? "crit " : "") + (s.error ? "error " : "") +
                (state.selected ? "hl" : "");
      var r = el("tr", cls.trim());
      r.dataset.spanId = s.id;
      s.cells.forEach(function (c, i) {
        var td = el("td", i === 0 ? "name" : (i === 9 ? "attrs" : ([2, 3, 4, 7, 8].indexOf(i) >= 0 ? "num" : "")), c);
        if (i === 0) { td.style.paddingLeft = (10 + 12 * Math.min(s.depth, 12)) + "px"; }
        r.appendChild(td);
      });
      body.appendChild(r);
    });
    var text = matches.toLocaleString("en-US") + " of " + d.spans.length.toLocaleString("en-US") + " spans";
    if (matches > shown) { text += " (first " + shown + " shown; refine the search)"; }
    if (state.selected) { text += " · selected: " + state.selected.label; }
    $("span-count").textContent = text;
  }

  function renderSteps(d) {
    var box = $("steps"); clear(box);
    if (!d.steps.length) { box.appendChild(el("p", "note", "No steps in this run.")); return; }
    var t = table(["#", "agent", "model", "in", "out", "cost", "marginal", "time", "tools", "err"],
                  [1, 0, 0, 1, 1, 1, 1, 1, 0, 1]);
    d.steps.forEach(function (s) {
      var r = t.row(s.cells, "clickable");
      r.addEventListener("click", function () { select(s.span_ids, "step " + s.index); });
    });
    box.appendChild(t.table);
  }

  function renderCriticalPath(d) {
    var box = $("critical-path"); clear(box);
    if (!d.critical_path.length) { return; }
    var t = table(["span", "category", "on path", "share"], [0, 0, 1, 1]);
    d.critical_path.forEach(function (p) {
      var r = t.row(p.cells, "clickable");
      r.addEventListener("click", function () { select([p.span_id], p.cells[0]); });
    });
    box.appendChild(t.table);
    if (d.critical_path_total > d.critical_path.length) {
      box.appendChild(el("p", "note", "First " + d.critical_path.length + " of " + d.critical_path_total + " path spans."));
    }
  }

  function showRun(id) {
    var d = DATA.details[id];
    if (!d) { return; }
    state.run = id; state.selected = null; state.finding = null;
    $("clear-selection").hidden = true;
    $("run-picker").value = id;
    $("run-title").textContent = d.title;
    $("waterfall-note").textContent = d.waterfall_note;
    $("explorer-note").textContent = d.explorer_note;
    plot("waterfall", d.figures.waterfall);
    plot("components", d.figures.components);
    plot("buckets", d.steps.length ? d.figures.buckets : null);
    plot("marginal", d.steps.length ? d.figures.marginal : null);
    renderSteps(d);
    renderCriticalPath(d);
    renderExplorer();
    var items = $("findings").children;
    for (var k = 0; k < items.length; k++) { items[k].classList.remove("active"); }
  }

  function renderRuns() {
    var picker = $("run-picker");
    DATA.detail_run_ids.forEach(function (id) {
      var row = DATA.runs.filter(function (r) { return r.run_id === id; })[0];
      var o = el("option", "", row ? row.text[0] + " · " + row.name + " · " + row.text[1] + " · " + row.text[2] : id);
      o.value = id;
      picker.appendChild(o);
    });
    picker.addEventListener("change", function () { showRun(picker.value); });
    $("picker-box").hidden = DATA.detail_run_ids.length < 2;
    if (DATA.runs_total < 2) { return; }
    $("runs-section").hidden = false;
    $("runs-title").textContent = "Across " + DATA.runs_total.toLocaleString("en-US") + " runs";
    $("success").textContent = "Success rate " + DATA.headline.text.success;
    if (DATA.distributions.length) {
      var t = table(["metric", "p50", "p95", "p99", "mean", "max"], [0, 1, 1, 1, 1, 1]);
      DATA.distributions.forEach(function (d) { t.row([(d.component ? "  " : "") + d.label].concat(d.text)); });
      $("dist").appendChild(t.table);
    }
    plot("wall-hist", DATA.figures.wall_hist);
    if (DATA.tools.length) {
      var tt = table(["tool", "calls", "errors", "error rate", "p50", "p95"], [0, 1, 1, 1, 1, 1]);
      DATA.tools.forEach(function (x) { tt.row([x.tool_name].concat(x.text)); });
      $("tools").appendChild(el("h3", "", "Tools")); $("tools").appendChild(tt.table);
    }
    DATA.alerts.forEach(function (a) {
      $("alerts").appendChild(el("p", a.breached ? "breached" : "", (a.breached ? "BREACHED " : "ok ") + a.text));
    });
    var rt = table(["run", "name", "wall", "cost", "tokens", "steps", "status"], [0, 0, 1, 1, 1, 1, 0]);
    DATA.runs.forEach(function (r) {
      var cells = [r.text[0], r.name].concat(r.text.slice(1));
      var tr = rt.row(cells, r.detail && DATA.details[r.run_id] ? "clickable" : "");
      if (!r.ok) { tr.classList.add("error"); }
      if (DATA.details[r.run_id]) {
        tr.addEventListener("click", function () { showRun(r.run_id); $("run-section").scrollIntoView(); });
      }
    });
    $("runs-table").appendChild(rt.table);
    var more = DATA.runs_total - DATA.runs.length;
    var note = "Slowest runs first" + (more > 0 ? "; " + more.toLocaleString("en-US") + " more not listed" : "") +
      ". Click a run with detail to show it below (" + DATA.detail_run_ids.length + " runs have detail" +
      (DATA.runs_elided ? "; " + DATA.runs_elided.toLocaleString("en-US") + " were summarised without spans" : "") + ").";
    $("runs-table").appendChild(el("p", "note", note));
  }

  function renderSources() {
    if (!DATA.sources.length) { return; }
    $("sources-section").hidden = false;
    var ul = $("sources");
    DATA.sources.forEach(function (s) {
      var li = el("li", "", s.path + " (" + s.format + ": " + s.spans_read + " spans read, " + s.spans_skipped + " skipped)");
      var sub = el("ul");
      s.problems.forEach(function (p) { sub.appendChild(el("li", "warn", p)); });
      li.appendChild(sub); ul.appendChild(li);
    });
  }

  renderHeadline();
  renderFindings();
  renderRuns();
  renderSources();
  $("span-search").addEventListener("input", renderExplorer);
  $("clear-selection").addEventListener("click", function () {
    select(null);
    var items = $("findings").children;
    for (var k = 0; k < items.length; k++) { items[k].classList.remove("active"); }
  });
  if (DATA.default_run) {
    showRun(DATA.default_run);
    var gd = $("waterfall");
    if (gd && gd.on) {
      gd.on("plotly_click", function (ev) {
        var p = ev && ev.points && ev.points[0];
        if (p && p.data.meta === "spans") { select([p.customdata], "span"); }
      });
    }
  } else {
    $("run-section").hidden = true;
  }
  document.body.dataset.ready = "1";
})();
