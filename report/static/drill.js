// Drill-down page of one op: renders window.TFPARITY (data/<op>.js, written by report/history.py).
// Location hash: #lane=<lane>&case=<case id>; without a case, the lane's worst case is shown.
// Every string from a result goes into the page as text (textContent), never as markup.
(function () {
  "use strict";
  var D = window.TFPARITY;
  var RANK = { crash: 0, error: 1, fail: 2, xfail: 3, unsupported: 4, pass: 5, baseline: 6, skip: 7 };
  var FLOOR = 1e-12;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function num(v, digits) {
    if (v === null || v === undefined) return "";
    return typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(digits || 3)).toString() : String(v);
  }
  function secs(v) {
    if (v === null || v === undefined) return "";
    var units = [[1, "s"], [1e-3, "ms"], [1e-6, "µs"], [1e-9, "ns"]];
    for (var i = 0; i < units.length; i++) if (v >= units[i][0] || i === units.length - 1) return num(v / units[i][0]) + " " + units[i][1];
  }
  function link(lane, caseId) {
    return "#" + new URLSearchParams(caseId ? { lane: lane, case: caseId } : { lane: lane }).toString();
  }
  function row(table, cells, header) {
    var tr = el("tr");
    cells.forEach(function (c, i) {
      var cell = c instanceof HTMLTableCellElement ? c : el(header ? "th" : "td");
      if (!(c instanceof Node)) cell.textContent = c;
      else if (cell !== c) cell.appendChild(c);
      if (i === 0) cell.classList.add("l");
      tr.appendChild(cell);
    });
    table.appendChild(tr);
    return tr;
  }
  // A titled two-column table of the entries that hold a value; nothing when none does.
  function keyValues(parent, title, obj) {
    var keys = Object.keys(obj).filter(function (k) { return obj[k] !== null && obj[k] !== undefined && obj[k] !== ""; });
    if (!keys.length) return;
    var box = el("div", null, "kv");
    box.appendChild(el("h3", title));
    var table = el("table");
    keys.forEach(function (k) {
      var v = obj[k];
      row(table, [k, typeof v === "object" ? JSON.stringify(v) : num(v, 4)]);
    });
    box.appendChild(table);
    parent.appendChild(box);
  }
  function chart(parent, id, title) {
    parent.appendChild(el("h3", title));
    var div = el("div", null, "chart");
    div.id = id;
    parent.appendChild(div);
    return div;
  }
  function plot(div, traces, layout) {
    layout.margin = { l: 60, r: 20, t: 20, b: 50 };
    layout.height = 320;
    layout.showlegend = true;
    Plotly.newPlot(div, traces, layout, { responsive: true });
  }

  // Whether the lane ran on a software GPU in run number i (its latency is CPU time, not GPU speed).
  function software(lane, i) { return D.runs[i].software_gpu.indexOf(lane) >= 0; }

  // One trace per machine; hover names the run, versions and outcome (and a software GPU); a star marks a version change.
  function trend(history, values, lane) {
    var machines = {};
    history.run.forEach(function (r, i) {
      var run = D.runs[r];
      var m = machines[run.machine] || (machines[run.machine] = { x: [], y: [], text: [], symbol: [], label: [] });
      m.x.push(run.started_utc);
      m.y.push(values(i));
      m.text.push(run.run_id + "<br>tf " + run.tensorflow + " · litert " + run.litert + "<br>" + history.outcome[i] +
                  (software(lane, r) ? "<br>" + D.software_gpu_note : ""));
      m.symbol.push(run.version_change ? "star" : "circle");
      m.label.push(run.version_change ? "tf " + run.tensorflow + " · litert " + run.litert : "");
    });
    return Object.keys(machines).map(function (name) {
      var m = machines[name];
      return { x: m.x, y: m.y, text: m.label, hovertext: m.text, name: name, mode: "lines+markers+text",
               textposition: "top center", hoverinfo: "text+y", marker: { symbol: m.symbol, size: 9 } };
    });
  }

  function worstCase(lane) {
    var cases = D.cases.filter(function (c) { return c.lanes[lane]; });
    cases.sort(function (a, b) {
      var x = a.lanes[lane], y = b.lanes[lane];
      return (RANK[x.outcome] - RANK[y.outcome]) || ((y.metrics.max_norm || 0) - (x.metrics.max_norm || 0));
    });
    return cases[0];
  }

  function render() {
    var state = new URLSearchParams(location.hash.slice(1));
    var lane = D.lanes.indexOf(state.get("lane")) >= 0 ? state.get("lane") : D.lanes[0];
    var chosen = D.cases.filter(function (c) { return c.id === state.get("case") && c.lanes[lane]; })[0] || worstCase(lane);

    var tabs = document.getElementById("lane-tabs");
    tabs.textContent = "";
    D.lanes.forEach(function (l) {
      var a = el("a", l, l === lane ? "active" : "");
      a.href = link(l);
      tabs.appendChild(a);
    });

    var list = document.getElementById("case-list");
    list.textContent = "";
    var note = chosen.lanes[lane].speed_note;
    row(list, ["case (" + lane + ")", "outcome", "max_norm", note ? "median (" + note + ")" : "median", "runs"], true);
    D.cases.forEach(function (c) {
      var r = c.lanes[lane];
      if (!r) return;
      var a = el("a", c.id, "case");
      a.href = link(lane, c.id);
      var outcome = el("td", r.outcome, "l o-" + r.outcome);
      var tr = row(list, [a, outcome, num(r.metrics.max_norm), secs(r.median), String(r.history.run.length)]);
      if (c === chosen) tr.className = "chosen";
    });
    var chosenRow = list.querySelector("tr.chosen");
    list.parentNode.scrollTop = chosenRow.offsetTop - list.parentNode.clientHeight / 2;

    var detail = document.getElementById("detail");
    detail.textContent = "";
    var r = chosen.lanes[lane];
    var h2 = el("h2", chosen.id);
    h2.id = "case-title";
    detail.appendChild(h2);
    var head = el("p", null, "meta");
    head.appendChild(el("span", r.outcome, "badge o-" + r.outcome));
    head.appendChild(document.createTextNode(" on " + lane + (r.reason ? " — " + r.reason : "")));
    detail.appendChild(head);

    var grid = el("div", null, "kvs");
    keyValues(grid, "Parameters", Object.assign({ seed: chosen.seed }, chosen.params));
    keyValues(grid, "Metrics", r.metrics);
    keyValues(grid, "Timing and tolerance", {
      median: secs(r.median), "speed note": r.speed_note, IQR: secs(r.iqr), rounds: r.rounds, "GFLOP/s": r.gflops,
      atol: r.tolerance.atol, rtol: r.tolerance.rtol, "tolerance scale": r.tolerance.scale });
    detail.appendChild(grid);
    detail.appendChild(el("h3", "Converted ops"));
    detail.appendChild(el("p", r.ops ? r.ops.join(" ") : "not a converted model on this lane", "ops"));
    detail.appendChild(el("h3", "Reproduce"));
    detail.appendChild(el("pre", r.repro, "repro"));

    var measured = function (values) { return values.some(function (v) { return v !== null; }); };
    if (measured(r.history.median)) {
      var slow = r.history.run.some(function (run) { return software(lane, run); });
      plot(chart(detail, "trend-latency", "Median latency over runs" + (slow ? " (" + D.software_gpu_note + ")" : "")),
           trend(r.history, function (i) { return r.history.median[i]; }, lane),
           { yaxis: { title: { text: "median (s)" }, type: "log" }, xaxis: { title: { text: "run start (UTC)" } } });
    }
    if (measured(r.history.error)) {
      plot(chart(detail, "trend-error", "Error over runs"),
           trend(r.history, function (i) { var e = r.history.error[i]; return e === null ? null : Math.max(e, FLOOR); }, lane),
           { yaxis: { title: { text: "max_norm (zero drawn at " + FLOOR + ")" }, type: "log", exponentformat: "power" },
             xaxis: { title: { text: "run start (UTC)" } } });
    }
    if (r.samples.length) {
      var sorted = r.samples.slice().sort(function (a, b) { return a - b; });
      var p99 = sorted[Math.floor(0.99 * (sorted.length - 1))];
      var drawn = r.samples.length < r.rounds ? ", drawn as " + r.samples.length + " quantiles" : "";
      plot(chart(detail, "timing", "Timing distribution (latest run: " + r.rounds + " rounds" + drawn + "; x up to the 99th percentile)" +
                 (note ? " — " + note : "")),
           [{ x: sorted.filter(function (s) { return s <= p99; }), type: "histogram", name: "samples" }],
           { xaxis: { title: { text: "seconds per call" } }, yaxis: { title: { text: "rounds" } },
             shapes: [{ type: "line", x0: r.median, x1: r.median, yref: "paper", y0: 0, y1: 1, line: { dash: "dot" } }] });
    }
    if (r.lsb_hist) {
      var keys = Object.keys(r.lsb_hist).map(Number).sort(function (a, b) { return a - b; });
      plot(chart(detail, "lsb", "Output minus reference kernels, in LSB"),
           [{ x: keys, y: keys.map(function (k) { return r.lsb_hist[k]; }), type: "bar", name: "outputs" }],
           { xaxis: { title: { text: "LSB" }, dtick: 1 }, yaxis: { title: { text: "outputs" }, type: "log" } });
    }
    document.title = chosen.id + " on " + lane + " · tfparity";
  }

  window.addEventListener("hashchange", render);
  render();
})();
