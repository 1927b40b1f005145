// The override dashboard: reads the analytics endpoints with the admin token and draws tables and SVG charts.
// No library, no network beyond the service, no innerHTML: every text goes in with textContent.
// The token lives in sessionStorage (this tab only) and travels only as an Authorization header.
"use strict";
(function () {
  const TOKEN_KEY = "cds-naltrexone-admin-token";
  const SVG = "http://www.w3.org/2000/svg";
  // Okabe-Ito: distinguishable with every common colour-vision deficiency; each series also has its own
  // marker shape and dash pattern, and a direct label, so colour is never the only cue.
  const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C6D00"];
  const DASHES = ["", "7 4", "2 3", "9 3 2 3", "4 4", "12 4", "1 5", "6 2 2 2"];
  const MARKERS = ["circle", "square", "triangle", "diamond", "cross", "triangle-down", "plus", "bar"];
  const MAX_SERIES = PALETTE.length;
  let current = {since: "", until: "", service: ""};

  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  const pct = (rate) => (rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + "%");
  const rate = (value) => (value === null || value === undefined ? "–" : value.toFixed(1));  // per 100 calls
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  function status(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = "status" + (isError ? " alert" : "");
  }

  function query(extra) {
    const params = new URLSearchParams();
    if (current.since) params.set("since", current.since);
    if (current.until) {  // the form's "to" day is included: ask for cards before the next day
      const next = new Date(current.until + "T00:00:00Z");
      next.setUTCDate(next.getUTCDate() + 1);
      params.set("until", next.toISOString().slice(0, 10));
    }
    if (current.service) params.set("service", current.service);
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    const q = params.toString();
    return q ? "?" + q : "";
  }

  async function get(path) {
    const response = await fetch(path, {headers: {"Authorization": "Bearer " + token()}, cache: "no-store",
                                        credentials: "omit"});
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin();
      throw new Error("The admin token was refused. Sign in again.");
    }
    if (!response.ok) {
      let message = "HTTP " + response.status;
      try { message += ": " + (await response.json()).issue[0].diagnostics; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  }

  // ------------------------------------------------------------------------------------------ tables
  function table(caption, columns, rows, id) {
    const t = el("table", {"class": "data", "id": id});
    t.append(el("caption", {}, caption));
    const head = el("tr");
    for (const c of columns) head.append(el("th", {"scope": "col", "class": c.num ? "num" : ""}, c.label));
    t.append(el("thead", {}, head));
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr");
      columns.forEach((c, i) => {
        const value = c.value(row);
        tr.append(i === 0 ? el("th", {"scope": "row"}, value) : el("td", {"class": c.num ? "num" : ""}, value));
      });
      body.append(tr);
    }
    if (!rows.length) {
      body.append(el("tr", {}, el("td", {"colspan": String(columns.length)}, "No data in this period.")));
    }
    t.append(body);
    return t;
  }

  function rulesTable(rules) {
    const columns = [
      {label: "Rule", value: (r) => r.rule_id},
      {label: "Cards issued", num: true, value: (r) => r.issued},
      {label: "Accepted", num: true, value: (r) => r.accepted},
      {label: "Overridden", num: true, value: (r) => r.overridden},
      {label: "Override rate", num: true, value: (r) => pct(r.override_rate)},
    ];
    // silent mode: during a silent period the silent firings sit next to the shown cards, both also per
    // 100 hook calls (the calls that reached the rules); without silent firings the columns stay away
    if (rules.some((r) => r.silent > 0)) {
      columns.splice(2, 0, {label: "Silent firings", num: true, value: (r) => r.silent ?? 0},
                     {label: "Shown per 100 calls", num: true, value: (r) => rate(r.shown_per_100_calls)},
                     {label: "Silent per 100 calls", num: true, value: (r) => rate(r.silent_per_100_calls)});
    }
    return table("Cards, outcomes and override rate per rule", columns, rules, "rules-data");
  }

  // ----------------------------------------------------------------------------------------- patterns
  function defs(prefix) {
    return svg("defs", {},
      svg("pattern", {id: prefix + "-hatch", patternUnits: "userSpaceOnUse", width: 7, height: 7,
                      patternTransform: "rotate(45)"},
          svg("rect", {width: 7, height: 7, fill: "#D55E00"}),
          svg("line", {x1: 0, y1: 0, x2: 0, y2: 7, stroke: "#ffffff", "stroke-width": 2.5})),
      svg("pattern", {id: prefix + "-dots", patternUnits: "userSpaceOnUse", width: 6, height: 6},
          svg("rect", {width: 6, height: 6, fill: "#f2f2f2"}),
          svg("circle", {cx: 3, cy: 3, r: 1.2, fill: "#595959"})));
  }
  const SEGMENTS = [
    {key: "accepted", label: "Accepted", fill: () => "#0072B2"},
    {key: "overridden", label: "Overridden (hatched)", fill: (p) => `url(#${p}-hatch)`},
    {key: "open", label: "No feedback (dotted)", fill: (p) => `url(#${p}-dots)`},
  ];

  function swatch(fill, prefix) {
    return svg("svg", {width: 22, height: 14, "aria-hidden": "true", focusable: "false"}, defs(prefix),
               svg("rect", {x: 0.5, y: 0.5, width: 21, height: 13, fill: fill, stroke: "#1b1f24"}));
  }

  function outcomesChart(rules) {
    const legend = $("outcomes-legend");
    legend.replaceChildren(...SEGMENTS.map((s, i) => el("li", {}, swatch(s.fill("lg" + i), "lg" + i), s.label)));
    const rowH = 30, left = 230, barW = 360, width = 960, top = 10;
    const height = top * 2 + rowH * Math.max(rules.length, 1);
    const max = Math.max(1, ...rules.map((r) => r.issued));
    const root = svg("svg", {viewBox: `0 0 ${width} ${height}`, width: width, height: height, role: "img",
                             "aria-labelledby": "outcomes-caption outcomes-desc"});
    root.append(svg("desc", {id: "outcomes-desc"}, rules.map((r) =>
      `${r.rule_id}: ${r.issued} issued, ${r.accepted} accepted, ${r.overridden} overridden`).join("; ")));
    root.append(defs("oc"));
    rules.forEach((r, i) => {
      const y = top + i * rowH;
      root.append(svg("text", {x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end", "font-size": 13,
                               fill: "#1b1f24"}, r.rule_id));
      const open = Math.max(0, r.issued - r.accepted - r.overridden);
      let x = left;
      for (const seg of SEGMENTS) {
        const n = seg.key === "open" ? open : r[seg.key];
        if (!n) continue;
        const w = (n / max) * barW;
        root.append(svg("rect", {x: x, y: y + 5, width: Math.max(w, 1), height: rowH - 10, fill: seg.fill("oc"),
                                 stroke: "#1b1f24", "stroke-width": 0.75},
                        svg("title", {}, `${r.rule_id}: ${n} ${seg.label.split(" (")[0].toLowerCase()}`)));
        x += w;
      }
      root.append(svg("text", {x: left + barW + 10, y: y + rowH / 2 + 4, "font-size": 12, fill: "#1b1f24"},
        `${r.issued} issued · ${r.accepted} accepted · ${r.overridden} overridden · ${pct(r.override_rate)}`));
    });
    $("outcomes-chart").replaceChildren(root);
  }

  // ------------------------------------------------------------------------------------- line chart
  function marker(kind, x, y, colour) {
    const s = 5, common = {fill: colour, stroke: colour, "stroke-width": 1.5};
    switch (kind) {
      case "square": return svg("rect", {...common, x: x - s, y: y - s, width: 2 * s, height: 2 * s});
      case "triangle": return svg("path", {...common, d: `M${x} ${y - s - 1}L${x + s + 1} ${y + s}L${x - s - 1} ${y + s}Z`});
      case "triangle-down": return svg("path", {...common, d: `M${x} ${y + s + 1}L${x + s + 1} ${y - s}L${x - s - 1} ${y - s}Z`});
      case "diamond": return svg("path", {...common, d: `M${x} ${y - s - 1}L${x + s + 1} ${y}L${x} ${y + s + 1}L${x - s - 1} ${y}Z`});
      case "cross": return svg("path", {...common, fill: "none", "stroke-width": 2.5,
                                        d: `M${x - s} ${y - s}L${x + s} ${y + s}M${x + s} ${y - s}L${x - s} ${y + s}`});
      case "plus": return svg("path", {...common, fill: "none", "stroke-width": 2.5,
                                       d: `M${x - s} ${y}L${x + s} ${y}M${x} ${y - s}L${x} ${y + s}`});
      case "bar": return svg("rect", {...common, x: x - 2, y: y - s - 1, width: 4, height: 2 * s + 2});
      default: return svg("circle", {...common, cx: x, cy: y, r: s});
    }
  }

  function dayRange(first, last) {
    const out = [];
    for (let d = new Date(first + "T00:00:00Z"); d <= new Date(last + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + 1)) {
      out.push(d.toISOString().slice(0, 10));
      if (out.length > 3660) break;
    }
    return out;
  }

  function trendChart(days) {
    const answered = new Map();
    for (const d of days) answered.set(d.rule_id, (answered.get(d.rule_id) || 0) + d.accepted + d.overridden);
    const rules = [...answered.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, MAX_SERIES).map(([rule]) => rule);
    const legend = $("trend-legend");
    const chart = $("trend-chart");
    if (!rules.length) {
      legend.replaceChildren();
      chart.replaceChildren(el("p", {"class": "notice"}, "No feedback in this period: no override rate to draw."));
      return;
    }
    const allDays = dayRange(days.map((d) => d.day).sort()[0], days.map((d) => d.day).sort().slice(-1)[0]);
    const width = 800, height = 320, m = {left: 56, right: 190, top: 16, bottom: 44};
    const plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
    const xOf = (day) => m.left + (allDays.length === 1 ? plotW / 2 : (allDays.indexOf(day) / (allDays.length - 1)) * plotW);
    const yOf = (rate) => m.top + (1 - rate) * plotH;
    const root = svg("svg", {viewBox: `0 0 ${width} ${height}`, width: width, height: height, role: "img",
                             "aria-labelledby": "trend-caption trend-desc"});
    const described = [];
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      root.append(svg("line", {x1: m.left, x2: m.left + plotW, y1: yOf(tick), y2: yOf(tick), stroke: "#d0d5dc"}));
      root.append(svg("text", {x: m.left - 8, y: yOf(tick) + 4, "text-anchor": "end", "font-size": 12, fill: "#1b1f24"},
                      `${tick * 100}%`));
    }
    const step = Math.max(1, Math.ceil(allDays.length / 7));
    allDays.forEach((day, i) => {
      if (i % step && i !== allDays.length - 1) return;
      root.append(svg("text", {x: xOf(day), y: m.top + plotH + 18, "text-anchor": "middle", "font-size": 12,
                               fill: "#1b1f24"}, day));
    });
    root.append(svg("line", {x1: m.left, x2: m.left + plotW, y1: m.top + plotH, y2: m.top + plotH, stroke: "#1b1f24"}));
    root.append(svg("text", {x: m.left + plotW / 2, y: height - 6, "text-anchor": "middle", "font-size": 12,
                             fill: "#1b1f24"}, "UTC day the cards were issued"));
    rules.forEach((rule, i) => {
      const colour = PALETTE[i], points = days.filter((d) => d.rule_id === rule && d.override_rate !== null);
      const path = points.map((d, j) => `${j ? "L" : "M"}${xOf(d.day)} ${yOf(d.override_rate)}`).join("");
      const group = svg("g", {"data-rule": rule});
      if (points.length > 1) {
        group.append(svg("path", {d: path, fill: "none", stroke: colour, "stroke-width": 2.5,
                                  "stroke-dasharray": DASHES[i]}));
      }
      for (const d of points) {
        const mk = marker(MARKERS[i], xOf(d.day), yOf(d.override_rate), colour);
        mk.append(svg("title", {}, `${rule}, ${d.day}: ${d.overridden} of ${d.accepted + d.overridden} answered ` +
                                    `cards overridden (${pct(d.override_rate)})`));
        group.append(mk);
      }
      const last = points[points.length - 1];
      group.append(svg("text", {x: m.left + plotW + 12, y: yOf(last.override_rate) + 4 + (i % 2 ? 6 : -2),
                                "font-size": 12, fill: "#1b1f24"}, `${rule} ${pct(last.override_rate)}`));
      root.append(group);
      described.push(`${rule}: ` + points.map((d) => `${d.day} ${pct(d.override_rate)}`).join(", "));
    });
    root.prepend(svg("desc", {id: "trend-desc"}, described.join("; ")));
    chart.replaceChildren(root);
    legend.replaceChildren(...rules.map((rule, i) => {
      const key = svg("svg", {width: 36, height: 14, "aria-hidden": "true", focusable: "false"},
        svg("line", {x1: 0, x2: 36, y1: 7, y2: 7, stroke: PALETTE[i], "stroke-width": 2.5, "stroke-dasharray": DASHES[i]}),
        marker(MARKERS[i], 18, 7, PALETTE[i]));
      return el("li", {}, key, rule);
    }));
    const withFeedback = [...answered.values()].filter((n) => n > 0).length;
    if (withFeedback > rules.length) {
      legend.append(el("li", {}, `(${withFeedback - rules.length} more rule(s) with feedback: see the table)`));
    }
  }

  // ------------------------------------------------------------------------------------------- load
  async function load() {
    status("Loading…");
    try {
      const [rulesResponse, daysResponse] = await Promise.all([get("/analytics/rules" + query()),
                                                               get("/analytics/rules/daily" + query())]);
      const rules = (await rulesResponse.json()).rules;
      const days = (await daysResponse.json()).days;
      outcomesChart(rules);
      $("rules-table").replaceChildren(rulesTable(rules));
      trendChart(days);
      const dayColumns = [
        {label: "Rule", value: (d) => d.rule_id}, {label: "Day", value: (d) => d.day},
        {label: "Issued", num: true, value: (d) => d.issued}, {label: "Accepted", num: true, value: (d) => d.accepted},
        {label: "Overridden", num: true, value: (d) => d.overridden},
        {label: "Override rate", num: true, value: (d) => pct(d.override_rate)}];
      if (days.some((d) => d.silent > 0)) {  // silent mode: silent firings and the day's hook calls
        dayColumns.splice(3, 0, {label: "Silent", num: true, value: (d) => d.silent ?? 0},
                          {label: "Hook calls", num: true, value: (d) => d.hook_calls ?? 0});
      }
      $("daily-table").replaceChildren(table("Cards per rule per UTC day of issue", dayColumns, days, "daily-data"));
      const reasons = rules.flatMap((r) => r.override_reasons.map((x) => ({rule_id: r.rule_id, ...x})));
      $("reasons-table").replaceChildren(table("Override reasons given, most frequent first per rule", [
        {label: "Rule", value: (x) => x.rule_id}, {label: "Reason", value: (x) => x.display || x.code},
        {label: "Code", value: (x) => x.code}, {label: "Cards", num: true, value: (x) => x.count}], reasons,
        "reasons-data"));
      const suggestions = rules.flatMap((r) => r.suggestions.map((s) => ({rule_id: r.rule_id, ...s})));
      $("suggestions-table").replaceChildren(table("Suggestions offered and accepted", [
        {label: "Rule", value: (s) => s.rule_id}, {label: "Suggestion", value: (s) => s.label},
        {label: "Offered on cards", num: true, value: (s) => s.issued},
        {label: "Accepted", num: true, value: (s) => s.accepted},
        {label: "Acceptance", num: true, value: (s) => pct(s.acceptance_rate)}], suggestions, "suggestions-data"));
      $("content").classList.remove("hidden");
      const total = rules.reduce((n, r) => n + r.issued, 0);
      const silent = rules.reduce((n, r) => n + (r.silent ?? 0), 0);
      status(`${total} card(s) from ${rules.length} rule(s)` + (silent ? ` and ${silent} silent firing(s)` : "") +
             (current.service ? ` of ${current.service}` : "") + ".");
    } catch (err) {
      $("content").classList.add("hidden");
      status(err.message, true);
    }
  }

  async function download(tableName) {
    try {
      const response = await get("/analytics/rules.csv" + query({table: tableName}));
      const url = URL.createObjectURL(await response.blob());
      const a = el("a", {href: url, download: `cds-naltrexone-${tableName}.csv`});
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      status(err.message, true);
    }
  }

  function showLogin() {
    $("login").classList.remove("hidden");
    $("filters-section").classList.add("hidden");
    $("content").classList.add("hidden");
  }
  function showDashboard() {
    $("login").classList.add("hidden");
    $("filters-section").classList.remove("hidden");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token").value.trim();
      $("token").value = "";
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      showDashboard();
      load().then(() => $("since").focus());
    });
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      current = {since: $("since").value, until: $("until").value, service: $("service").value};
      load();
    });
    $("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin();
      status("Signed out.");
      $("token").focus();
    });
    for (const button of document.querySelectorAll("button.csv")) {
      button.addEventListener("click", () => download(button.dataset.table));
    }
    if (token()) {
      showDashboard();
      load();
    }
  });
})();
