// syncnet-eval report: builds the video table and the per-video charts from the embedded data.
// No network, no library: everything is drawn here with the DOM and SVG.
"use strict";
(function () {
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var V = DATA.videos;
  var PAGE = 100;
  var SVGNS = "http://www.w3.org/2000/svg";
  // Words, colours and offset axes come from Python (syncnet_eval.presentation), as every output
  // shows them: nothing here works out a sign, a glyph or a time of its own.
  var TEXT = DATA.text;
  var TRACK_COLOURS = DATA.trackColours;
  var multiRun = DATA.runs.length > 1;
  var COLS = [
    { key: "r", label: "run", show: multiRun, value: function (v) { return v.r; },
      text: function (v) { return DATA.runs[v.r].split("/").pop(); } },
    { key: "id", label: "id", cls: "id", value: function (v) { return v.id; } },
    { key: "g", label: "group", value: function (v) { return v.g; } },
    { key: "s", label: "status", value: function (v) { return v.s; } },
    { key: "f", label: "flags", value: function (v) { return v.f.length ? v.f.join(" ") : null; } },
    { key: "d", label: TEXT.lseD, num: true, value: function (v) { return v.d; },
      text: function (v) { return fixed(v.d, 3); } },
    { key: "c", label: TEXT.lseC, num: true, value: function (v) { return v.c; },
      text: function (v) { return fixed(v.c, 3); } },
    { key: "o", label: "offset", num: true, value: function (v) { return v.o; },
      text: function (v) { return signed(v.o, Number.isInteger(v.o) ? 0 : 2); } },
    { key: "ms", label: "ms", num: true, value: function (v) { return v.ms; },
      text: function (v) { return signed(v.ms, 0); } },
    { key: "nt", label: "tracks", num: true, value: function (v) { return v.t.length; } },
    { key: "w", label: "warnings", num: true, value: function (v) { return v.w.length; },
      text: function (v) { return v.w.length ? String(v.w.length) : ""; } }
  ].filter(function (c) { return c.show !== false; });
  var state = { key: "c", dir: 1, page: 0, rows: [] };

  function fixed(x, digits) {
    return x === null || x === undefined ? TEXT.missing : x.toFixed(digits);
  }
  function signed(x, digits) {
    if (x === null || x === undefined) { return TEXT.missing; }
    return (x > 0 ? "+" : x < 0 ? "−" : "±") + Math.abs(x).toFixed(digits);
  }
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // Per-window confidence: base64 of little-endian int16 hundredths.
  function decodeConf(b64) {
    var bin = atob(b64);
    var view = new DataView(new ArrayBuffer(bin.length));
    for (var i = 0; i < bin.length; i++) { view.setUint8(i, bin.charCodeAt(i)); }
    var out = new Float64Array(bin.length / 2);
    for (var j = 0; j < out.length; j++) { out[j] = view.getInt16(2 * j, true) / 100; }
    return out;
  }

  // -- table ---------------------------------------------------------------------------------
  function compare(a, b) {
    var col = COLS.filter(function (c) { return c.key === state.key; })[0];
    var x = col.value(V[a]), y = col.value(V[b]);
    var xn = x === null || x === undefined, yn = y === null || y === undefined;
    if (xn || yn) { return xn && yn ? a - b : xn ? 1 : -1; }  // no value: last either way
    var r = col.num ? x - y : String(x).localeCompare(String(y));
    return r !== 0 ? state.dir * r : a - b;
  }
  function matches(v, text, status, flag, run) {
    if (status === "ok" && v.s !== "ok") { return false; }
    if (status === "!ok" && v.s === "ok") { return false; }
    if (flag === "-" && v.f.length) { return false; }
    if (flag === "+" && !v.f.length) { return false; }
    if (flag && flag !== "-" && flag !== "+" && v.f.indexOf(flag) < 0) { return false; }
    if (run !== "" && String(v.r) !== run) { return false; }
    if (!text) { return true; }
    var hay = [v.id, v.p, v.g || "", v.why || "", v.f.join(" "), v.s].join("\n").toLowerCase();
    return hay.indexOf(text) >= 0;
  }
  function refresh() {
    var text = $("f-text").value.trim().toLowerCase();
    var status = $("f-status").value, flag = $("f-flag").value;
    var run = $("f-run") ? $("f-run").value : "";
    var rows = [];
    for (var i = 0; i < V.length; i++) {
      if (matches(V[i], text, status, flag, run)) { rows.push(i); }
    }
    rows.sort(compare);
    state.rows = rows;
    state.page = Math.min(state.page, Math.max(0, Math.ceil(rows.length / PAGE) - 1));
    render();
  }
  function render() {
    var head = document.querySelector("#video-table thead tr");
    head.textContent = "";
    COLS.forEach(function (c) {
      var th = el("th", { "data-key": c.key, scope: "col" }, c.label);
      if (c.key === state.key) {
        th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      }
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(c.key); });
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { sortBy(c.key); } });
      head.appendChild(th);
    });
    var body = document.querySelector("#video-table tbody");
    body.textContent = "";
    var start = state.page * PAGE, stop = Math.min(state.rows.length, start + PAGE);
    for (var n = start; n < stop; n++) { body.appendChild(row(state.rows[n])); }
    var pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    $("count").textContent = state.rows.length + " of " + V.length +
      (V.length === 1 ? " record" : " records");
  }
  function row(i) {
    var v = V[i];
    var tr = el("tr", { "data-i": String(i) });
    COLS.forEach(function (c) {
      var value = c.text ? c.text(v) : c.value(v);
      var td = el("td", c.cls ? { "class": c.cls } : {}, value === null ? "" : String(value));
      if (c.key === "id") { td.title = v.p; }
      if (c.key === "r") { td.title = DATA.runs[v.r]; }
      if (c.key === "s") {
        td.className = v.s === "ok" ? "st-ok" : "st-bad";
        if (v.why) { td.title = v.why; }
      }
      if (c.key === "f" && v.f.length) {
        td.className = "flag";
        td.title = v.f.map(function (f) { return f + ": " + DATA.flagHelp[f]; }).join("\n");
      }
      if (c.key === "w" && v.w.length) { td.title = v.w.join("\n"); }
      tr.appendChild(td);
    });
    tr.tabIndex = 0;  // keyboard: Tab to a row, Enter opens it
    tr.addEventListener("click", function () { show(i); });
    tr.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { show(i); } });
    return tr;
  }
  function sortBy(key) {
    if (state.key === key) { state.dir = -state.dir; } else { state.key = key; state.dir = 1; }
    state.page = 0;
    refresh();
  }

  // -- charts --------------------------------------------------------------------------------
  function ticks(lo, hi, count) {
    var span = hi > lo ? hi - lo : 1, raw = span / count;
    var step = Math.pow(10, Math.floor(Math.log10(raw))), err = raw / step;
    step *= err >= 7.07 ? 10 : err >= 3.16 ? 5 : err >= 1.41 ? 2 : 1;  // as d3's ticks
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) {
      out.push(Math.round(t * 1e6) / 1e6);
    }
    return out;
  }
  function frame(w, h, m, xs, ys, xlab, ylab, cls) {
    var root = svg("svg", { "class": cls, viewBox: "0 0 " + w + " " + h, width: w, height: h });
    var pw = w - m.l - m.r, ph = h - m.t - m.b;
    var sx = function (x) { return m.l + (x - xs[0]) / (xs[1] - xs[0]) * pw; };
    var sy = function (y) { return m.t + ph - (y - ys[0]) / (ys[1] - ys[0]) * ph; };
    ticks(ys[0], ys[1], 4).forEach(function (t) {
      root.appendChild(svg("line", { x1: m.l, x2: m.l + pw, y1: sy(t), y2: sy(t), "class": "grid" }));
      root.appendChild(svg("text", { x: m.l - 4, y: sy(t) + 3, "class": "tick",
        "text-anchor": "end" }, String(t)));
    });
    ticks(xs[0], xs[1], 6).forEach(function (t) {  // labels at the ends kept inside the chart
      var x = sx(t), anchor = x - m.l < 12 ? "start" : m.l + pw - x < 12 ? "end" : "middle";
      root.appendChild(svg("text", { x: x, y: m.t + ph + 14, "class": "tick",
        "text-anchor": anchor }, String(t)));
    });
    root.appendChild(svg("line", { x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph, "class": "axis" }));
    root.appendChild(svg("line", { x1: m.l, x2: m.l, y1: m.t, y2: m.t + ph, "class": "axis" }));
    root.appendChild(svg("text", { x: m.l + pw / 2, y: m.t + ph + 28, "class": "tick",
      "text-anchor": "middle" }, xlab));
    root.appendChild(svg("text", { x: 12, y: m.t + ph / 2, "class": "tick", "text-anchor": "middle",
      transform: "rotate(-90 12 " + (m.t + ph / 2) + ")" }, ylab));
    return { root: root, sx: sx, sy: sy, pw: pw, ph: ph };
  }
  function mainTrack(v) {
    var sel = v.t.filter(function (t) { return t.i === v.sel; });
    return sel.length ? sel[0] : v.t[0];
  }
  function trackColour(v, t) {  // a track's colour: its position in the record, as everywhere
    return TRACK_COLOURS[v.t.indexOf(t) % TRACK_COLOURS.length];
  }
  function polyline(points, cls, colour) {
    var attrs = { points: points.join(" "), "class": cls };
    if (colour) { attrs.stroke = colour; }
    return svg("polyline", attrs);
  }
  function curveChart(v) {
    var main = mainTrack(v), pair = v.pr !== null ? V[v.pr] : null;
    var axis = DATA.axes[String(main.dist.length)];
    var xlo = Math.min(axis[0], axis[axis.length - 1]), xhi = Math.max(axis[0], axis[axis.length - 1]);
    var all = [];
    v.t.forEach(function (t) { all = all.concat(t.dist); });
    if (pair && pair.t.length) { all = all.concat(mainTrack(pair).dist); }
    var lo = Math.min.apply(null, all), hi = Math.max.apply(null, all), pad = (hi - lo) * 0.06 || 1;
    var f = frame(420, 250, { l: 46, r: 14, t: 22, b: 38 }, [xlo, xhi], [lo - pad, hi + pad],
      TEXT.offsetAxis, "mean distance", "curve-chart");
    var pts = function (t) {
      var ax = DATA.axes[String(t.dist.length)];
      return t.dist.map(function (d, k) { return f.sx(ax[k]).toFixed(1) + "," + f.sy(d).toFixed(1); });
    };
    f.root.appendChild(svg("text", { x: 46, y: 14, "class": "title" },
      "track " + main.i + ": min (" + TEXT.lseD + ") " + fixed(main.d, 3) + " at " +
      signed(main.o, 0) + ", " + TEXT.lseC + " " + fixed(main.c, 3)));
    v.t.forEach(function (t) { if (t !== main) { f.root.appendChild(polyline(pts(t), "curve other")); } });
    if (pair && pair.t.length) {
      f.root.appendChild(polyline(pts(mainTrack(pair)), "curve baseline"));
    }
    f.root.appendChild(polyline(pts(main), "curve main", trackColour(v, main)));
    var kmin = 0;
    main.dist.forEach(function (d, k) { if (d < main.dist[kmin]) { kmin = k; } });
    var sorted = main.dist.slice().sort(function (a, b) { return a - b; });
    var median = sorted[(sorted.length - 1) >> 1];
    var xm = f.sx(axis[kmin]), ymin = f.sy(main.dist[kmin]), ymed = f.sy(median);
    f.root.appendChild(svg("line", { x1: f.sx(xlo), x2: f.sx(xhi), y1: ymed, y2: ymed, "class": "median" }));
    f.root.appendChild(svg("text", { x: f.sx(xhi) - 2, y: ymed - 4, "class": "tick", "text-anchor": "end" },
      "median " + fixed(median, 3)));
    f.root.appendChild(svg("line", { x1: xm, x2: xm, y1: ymin, y2: ymed, "class": "lsec" }));
    var leftSide = xm > f.sx(xlo) + f.pw / 2;  // the label on the side with room for it
    f.root.appendChild(svg("text", { x: leftSide ? xm - 5 : xm + 5, y: (ymin + ymed) / 2,
      "class": "lsec", "text-anchor": leftSide ? "end" : "start" }, TEXT.lseC + " " + fixed(main.c, 3)));
    f.root.appendChild(svg("circle", { cx: xm, cy: ymin, r: 4, fill: "#000", "class": "min" }));
    return f.root;
  }
  // The timeline and the drift chart share one time axis: this width, these side margins and
  // [0, timelineEnd(v)] s, drawn one above the other in one column (so a time lines up).
  var TIME_W = 540, TIME_L = 46, TIME_R = 14;
  function timelineEnd(v) {  // seconds: the last track, window or the video's end
    var end = 0;
    v.t.forEach(function (t) {
      end = Math.max(end, t.t1 || 0, t.ct0 + decodeConf(t.conf).length * t.cdt);
      (t.seg || []).forEach(function (s) { end = Math.max(end, s[0]); });
    });
    if (v.end !== null) { end = Math.max(end, v.end); }
    return end || 1;
  }
  function timelineChart(v) {
    var confs = v.t.map(function (t) { return decodeConf(t.conf); });
    var end = timelineEnd(v), lo = 0, hi = 1;
    v.t.forEach(function (t, n) {
      confs[n].forEach(function (c) { lo = Math.min(lo, c); hi = Math.max(hi, c); });
    });
    var lanes = Math.min(v.t.length, 8), pad = (hi - lo) * 0.06;
    var f = frame(TIME_W, 250 + 12 * lanes, { l: TIME_L, r: TIME_R, t: 22, b: 38 + 12 * lanes },
      [0, end], [lo - pad, hi + pad], "time (s)", "confidence", "timeline-chart");
    var judged = v.t.some(function (t) { return t.sp; });
    f.root.appendChild(svg("text", { x: 46, y: 14, "class": "title" },
      "confidence per window · bars: tracks" + (judged ? " (green: speaking)" : "") +
      ((v.own || []).length ? " (line above: owns the audio)" : "") +
      (v.cut.length ? " · dashed: scene cuts" : "")));
    var main = mainTrack(v);
    v.t.forEach(function (t, n) {
      var colour = trackColour(v, t);
      var x0 = f.sx(t.t0 || 0), x1 = f.sx(t.t1 !== null ? t.t1 : end);
      var y = 22 + f.ph + 34 + 12 * (n % lanes);
      f.root.appendChild(svg("rect", { x: x0, y: y, width: Math.max(x1 - x0, 1), height: 9,
        fill: colour, "class": "span" }));
      if (t.sp) {  // active-speaker state under the bar: red while not speaking, green while speaking
        f.root.appendChild(svg("rect", { x: x0, y: y + 9, width: Math.max(x1 - x0, 1), height: 3,
          "class": "silent" }));
        t.sp.forEach(function (seg) {
          var s0 = f.sx(seg[0]), s1 = f.sx(seg[1]);
          var mark = svg("rect", { x: s0, y: y + 8, width: Math.max(s1 - s0, 2), height: 4,
            "class": "speaking" });
          mark.appendChild(svg("title", {}, "track " + t.i + " speaking " + fixed(seg[0], 2) + "–" +
            fixed(seg[1], 2) + " s"));
          f.root.appendChild(mark);
        });
      }
      (v.own || []).forEach(function (run) {  // the owner measure: this track owns the audio
        if (run[0] !== t.i) { return; }
        var o0 = f.sx(run[1]), o1 = f.sx(run[2]);
        var own = svg("rect", { x: o0, y: y - 3, width: Math.max(o1 - o0, 2), height: 3,
          "class": "owner" });
        own.appendChild(svg("title", {}, "track " + t.i + " owns the audio " + fixed(run[1], 2) +
          "–" + fixed(run[2], 2) + " s"));
        f.root.appendChild(own);
      });
      f.root.appendChild(svg("text", { x: x0 + 3, y: y + 8, "class": "tick" }, "track " + t.i));
      var pts = [];
      for (var i = 0; i < confs[n].length; i++) {
        pts.push(f.sx(t.ct0 + i * t.cdt).toFixed(1) + "," + f.sy(confs[n][i]).toFixed(1));
      }
      f.root.appendChild(polyline(pts, "curve conf" + (t === main ? " main" : ""), colour));
    });
    v.cut.forEach(function (s) {
      var x = f.sx(s);
      f.root.appendChild(svg("line", { x1: x, x2: x, y1: 22, y2: 22 + f.ph, "class": "cut" }));
    });
    if (main) {
      var yc = f.sy(main.c);
      f.root.appendChild(svg("line", { x1: f.sx(0), x2: f.sx(end), y1: yc, y2: yc, "class": "median" }));
      f.root.appendChild(svg("text", { x: f.sx(end) - 2, y: yc - 4, "class": "tick",
        "text-anchor": "end" }, "LSE-C of track " + main.i));
    }
    return f.root;
  }

  function driftChart(v) {  // the main track's segment offsets and its drift line
    var main = mainTrack(v), seg = main.seg;
    var lo = 0, hi = 0;
    seg.forEach(function (s) { lo = Math.min(lo, s[1]); hi = Math.max(hi, s[1]); });
    var f = frame(TIME_W, 200, { l: TIME_L, r: TIME_R, t: 22, b: 38 }, [0, timelineEnd(v)],
      [lo - 1, hi + 1], "time (s)", TEXT.driftAxis, "drift-chart");
    f.root.appendChild(svg("text", { x: TIME_L, y: 14, "class": "title" },
      "offset over time, track " + main.i + ": " + main.dr));
    f.root.appendChild(svg("text", { x: TIME_L + f.pw, y: 22 + f.ph + 28, "class": "tick",
      "text-anchor": "end" }, "hollow: left out"));
    var colour = trackColour(v, main), used = [];
    seg.forEach(function (s) {
      var dot = svg("circle", { cx: f.sx(s[0]), cy: f.sy(s[1]), r: 3, stroke: colour,
        fill: s[2] ? colour : "none" });
      dot.appendChild(svg("title", {}, fixed(s[0], 1) + " s: " + signed(s[1], 0)));
      f.root.appendChild(dot);
      if (s[2]) { used.push(s); }
    });
    if (used.length && main.drs !== null && main.drs !== undefined) {
      // The recorded slope through the mean of the used segments (a least-squares line's centre).
      var tm = 0, om = 0;
      used.forEach(function (s) { tm += s[0] / used.length; om += s[1] / used.length; });
      var perS = main.drs / 60 / TEXT.msPerFrame, a = used[0][0], b = used[used.length - 1][0];
      f.root.appendChild(polyline([f.sx(a).toFixed(1) + "," + f.sy(om + perS * (a - tm)).toFixed(1),
        f.sx(b).toFixed(1) + "," + f.sy(om + perS * (b - tm)).toFixed(1)], "curve main", colour));
    }
    return f.root;
  }

  // -- detail --------------------------------------------------------------------------------
  function tracksTable(v) {
    var table = el("table", { "class": "num tracks" });
    var head = el("tr");
    var asd = v.t.some(function (t) { return t.sf !== null && t.sf !== undefined; });
    var heads = ["track", "frames", "time (s)", "windows", "offset", TEXT.lseD, TEXT.lseC];
    if (asd) { heads.push("speaking (ASD)"); }
    // One column per track measure that any of these tracks has (the measures registry).
    var measures = DATA.trackMeasures.filter(function (m) {
      return v.t.some(function (t) { return t.m && t.m[m[0]] !== undefined; });
    });
    measures.forEach(function (m) { heads.push(m[1]); });
    heads.forEach(function (h) {
      head.appendChild(el("th", {}, h));
    });
    table.appendChild(head);
    v.t.forEach(function (t) {
      var tr = el("tr");
      var chosen = t.i === v.sel ? " ★" : "";
      [t.i + chosen, t.a + "–" + t.b, fixed(t.t0, 2) + "–" + fixed(t.t1, 2), t.n, signed(t.o, 0),
        fixed(t.d, 3), fixed(t.c, 3)].forEach(function (c) { tr.appendChild(el("td", {}, String(c))); });
      if (asd) {
        var share = t.sf === null || t.sf === undefined ? TEXT.missing : fixed(100 * t.sf, 0) + "%";
        tr.appendChild(el("td", { "class": t.sf >= 0.5 ? "speaking" : "silent" }, share));
      }
      measures.forEach(function (m) {
        var cell = t.m ? t.m[m[0]] : undefined;
        tr.appendChild(el("td", { "data-measure": m[0] }, cell === undefined ? TEXT.missing : cell));
      });
      table.appendChild(tr);
    });
    return table;
  }
  function trackRule(v) {  // which track the numbers come from, and by which --track-select
    if (!v.agg) { return ""; }
    if (v.agg === "mean") { return " · mean over tracks"; }
    return " · track " + v.sel + " (" + v.agg + ")";
  }
  function openDetail(i) {
    var v = V[i], box = $("detail");
    if (!v) { return; }
    box.textContent = "";
    box.hidden = false;
    var close = el("button", { type: "button", "class": "close" }, "close");
    close.addEventListener("click", function () { box.hidden = true; history.replaceState(null, "", "#videos"); });
    box.appendChild(close);
    box.appendChild(el("h3", {}, v.id));
    var facts = el("p");
    facts.appendChild(el("code", {}, v.p));
    facts.appendChild(document.createTextNode(" · " + DATA.runs[v.r] + " · " + v.s +
      (v.rc ? " (" + v.rc + ")" : "") + (v.g ? " · group " + v.g : "")));
    box.appendChild(facts);
    if (v.why) { box.appendChild(el("p", { "class": "warning" }, v.why)); }
    if (v.s === "ok") {
      box.appendChild(el("p", {}, TEXT.offset + " " + signed(v.o, Number.isInteger(v.o) ? 0 : 2) +
        " frames (" + signed(v.ms, 0) + " ms; " + TEXT.offsetSign + ") · " + TEXT.lseD + " " +
        fixed(v.d, 3) + " · " + TEXT.lseC + " " + fixed(v.c, 3) + trackRule(v)));
    }
    (v.ml || []).forEach(function (line) {  // one line per measure (silence, drift, ...)
      box.appendChild(el("p", { "class": "measure" }, line));
    });
    v.f.forEach(function (f) { box.appendChild(el("p", { "class": "flag" }, "flag " + f + ": " + DATA.flagHelp[f])); });
    v.w.forEach(function (w) { box.appendChild(el("p", { "class": "warning" }, w)); });
    if (v.pr !== null) {
      var p = V[v.pr], link = el("a", { href: "#v=" + v.pr }, "open it");
      var line = el("p", {}, "Paired with " + DATA.runs[p.r] + ": " + TEXT.lseD + " " +
        fixed(p.d, 3) + ", " + TEXT.lseC + " " + fixed(p.c, 3) + ", offset " + signed(p.o, 0) +
        " (dashed curve) — ");
      line.appendChild(link);
      box.appendChild(line);
    }
    if (v.v) {
      var a = el("p");
      a.appendChild(el("a", { href: v.v }, "annotated video"));
      box.appendChild(a);
    }
    if (v.t.length && v.t[0].dist.length) {
      var charts = el("div", { "class": "charts" });
      charts.appendChild(curveChart(v));
      var time = el("div", { "class": "time-charts" });  // one column: one time axis
      time.appendChild(timelineChart(v));
      if (mainTrack(v).seg && mainTrack(v).seg.length) { time.appendChild(driftChart(v)); }
      charts.appendChild(time);
      box.appendChild(charts);
    } else if (v.t.length) {
      box.appendChild(el("p", {}, "No curves in this record (CSV results carry only the numbers)."));
    }
    if (v.t.length) { box.appendChild(tracksTable(v)); }
    var rows = document.querySelectorAll("#video-table tbody tr");
    for (var n = 0; n < rows.length; n++) {
      rows[n].classList.toggle("open", rows[n].getAttribute("data-i") === String(i));
    }
    box.scrollIntoView({ block: "nearest" });
  }
  function show(i) {
    if (location.hash === "#v=" + i) { openDetail(i); } else { location.hash = "v=" + i; }
  }
  function fromHash() {
    var m = /^#v=(\d+)$/.exec(location.hash);
    if (m) { openDetail(Number(m[1])); }
  }

  // -- not scored ----------------------------------------------------------------------------
  function failures() {
    var failed = [];
    V.forEach(function (v, i) { if (v.s !== "ok") { failed.push(i); } });
    var box = $("failures");
    if (!failed.length) { box.appendChild(el("p", {}, "Every input was scored.")); return; }
    var details = el("details");
    details.appendChild(el("summary", {}, failed.length + (failed.length === 1 ? " input" : " inputs") +
      " not scored, with their reasons"));
    var list = el("ul");
    var filled = false;
    function fill() {
      if (filled) { return; }
      filled = true;
      failed.forEach(function (i) {
        var v = V[i], li = el("li");
        li.appendChild(el("code", {}, v.id));
        li.appendChild(document.createTextNode(" · " + (multiRun ? DATA.runs[v.r] + " · " : "") +
          v.s + (v.rc ? " (" + v.rc + ")" : "") + ": " + (v.why || "no reason recorded")));
        list.appendChild(li);
      });
    }
    details.addEventListener("toggle", fill);
    details.appendChild(list);
    box.appendChild(details);
    if (failed.length <= 50) { details.open = true; fill(); }
  }

  ["f-text", "f-status", "f-flag", "f-run"].forEach(function (id) {
    var node = $(id);
    if (node) {
      ["input", "change"].forEach(function (type) {
        node.addEventListener(type, function () { state.page = 0; refresh(); });
      });
    }
  });
  $("prev").addEventListener("click", function () { state.page -= 1; render(); });
  $("next").addEventListener("click", function () { state.page += 1; render(); });
  document.querySelectorAll("a.open").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); show(Number(a.getAttribute("data-i"))); });
  });
  window.addEventListener("hashchange", fromHash);
  refresh();
  failures();
  fromHash();
})();
