// The Ordo dashboard's page script: no build step, no framework. Everything shown comes from
// the member as JSON and is put on the page with textContent (never innerHTML): keys and values
// are arbitrary bytes, shown as text with unprintable bytes escaped as \xNN.

(() => {
  const $ = (id) => document.getElementById(id);
  const WINDOW_S = 600;

  // ---- bytes ---------------------------------------------------------------------------------

  const fromBase64 = (text) => {
    const bin = atob(text || "");
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  const toBase64Url = (text) => {
    const bytes = new TextEncoder().encode(text);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const hex = (b) => `\\x${b.toString(16).padStart(2, "0")}`;
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  /** Bytes as text: valid UTF-8 with control characters escaped, else printable ASCII and \xNN. */
  const showBytes = (bytes) => {
    let text;
    try {
      text = utf8.decode(bytes);
    } catch {
      let out = "";
      for (const b of bytes)
        out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : hex(b);
      return { text: out, escaped: true };
    }
    let escaped = false;
    let out = "";
    for (const c of text) {
      const code = c.charCodeAt(0);
      if (c === "\\") out += "\\\\";
      else if (code < 0x20 || code === 0x7f) out += hex(code);
      else {
        out += c;
        continue;
      }
      escaped = true;
    }
    return { text: out, escaped };
  };
  const hexDump = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

  const cell = (tr, text, cls) => {
    const td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "–" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  };
  const bytesCell = (tr, b64) => {
    const shown = showBytes(fromBase64(b64));
    const td = cell(tr, shown.text, shown.escaped ? "key escaped" : "key");
    if (shown.escaped) td.title = "unprintable bytes shown as \\xNN";
    return td;
  };
  const clear = (el) => {
    while (el.firstChild) el.removeChild(el.firstChild);
  };

  // ---- charts --------------------------------------------------------------------------------

  let marks = [];
  const markKey = (m) => `${m.t}|${m.kind}|${m.text}`;
  const data = { t: [], proposals: [], commits: [], p50: [], p99: [], lag: [] };
  const charts = [];

  const marksPlugin = () => ({
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          ctx.lineWidth = 1;
          ctx.setLineDash([4, 3]);
          ctx.font = `${10 * devicePixelRatio}px system-ui, sans-serif`;
          for (const m of marks) {
            const x = u.valToPos(m.t, "x", true);
            if (!(x >= bbox.left && x <= bbox.left + bbox.width)) continue;
            ctx.strokeStyle = m.kind === "leader" ? "#c5221f" : "#7b1fa2";
            ctx.fillStyle = ctx.strokeStyle;
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
            // Right of the line, or left of it near the plot's right edge.
            const right = x + ctx.measureText(m.text).width + 6 < bbox.left + bbox.width;
            ctx.textAlign = right ? "left" : "right";
            ctx.textBaseline = "top";
            ctx.fillText(m.text, right ? x + 3 : x - 3, bbox.top + 2);
          }
          ctx.restore();
        },
      ],
    },
  });

  const makeChart = (el, series) => {
    const width = () => Math.max(300, el.clientWidth || 360);
    const opts = {
      width: width(),
      height: 200,
      plugins: [marksPlugin()],
      scales: { x: { time: true } },
      legend: { live: false },
      series: [
        {},
        ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, spanGaps: false })),
      ],
      axes: [{}, { size: 50 }],
    };
    const chart = new uPlot(opts, [[], ...series.map(() => [])], el);
    charts.push({ chart, el, width, series });
    return chart;
  };

  let ratesChart;
  let fsyncChart;
  let lagChart;
  const setupCharts = () => {
    if (ratesChart || typeof uPlot === "undefined") return;
    ratesChart = makeChart($("chart-rates"), [
      { label: "proposals/s", stroke: "#1a73e8" },
      { label: "commits/s", stroke: "#1e8e3e" },
    ]);
    fsyncChart = makeChart($("chart-fsync"), [
      { label: "p50 ms", stroke: "#1a73e8" },
      { label: "p99 ms", stroke: "#c5221f" },
    ]);
    lagChart = makeChart($("chart-lag"), [{ label: "apply lag", stroke: "#b06000" }]);
    window.addEventListener("resize", () => {
      for (const c of charts) c.chart.setSize({ width: c.width(), height: 200 });
    });
  };

  const pushSample = (s) => {
    if (!s) return;
    const last = data.t[data.t.length - 1];
    if (last !== undefined && s.t <= last) return;
    data.t.push(s.t);
    data.proposals.push(s.proposalsPerS);
    data.commits.push(s.commitsPerS);
    data.p50.push(s.fsyncP50Ms);
    data.p99.push(s.fsyncP99Ms);
    data.lag.push(s.applyLag);
    while (data.t.length > 0 && data.t[0] < s.t - WINDOW_S) for (const k in data) data[k].shift();
  };
  const redraw = () => {
    setupCharts();
    if (!ratesChart) return;
    ratesChart.setData([data.t, data.proposals, data.commits]);
    fsyncChart.setData([data.t, data.p50, data.p99]);
    lagChart.setData([data.t, data.lag]);
  };
  const addMarks = (list) => {
    const seen = new Set(marks.map(markKey));
    for (const m of list || []) if (!seen.has(markKey(m))) marks.push(m);
    const oldest = (data.t[0] ?? 0) - 1;
    marks = marks.filter((m) => m.t >= oldest).slice(-200);
    const ul = $("marks");
    clear(ul);
    for (const m of marks.slice(-10).reverse()) {
      const li = document.createElement("li");
      li.textContent = `${new Date(m.t * 1000).toLocaleTimeString()} — ${m.text}`;
      li.className = m.kind === "leader" ? "mark-leader" : "mark-membership";
      ul.appendChild(li);
    }
  };

  // ---- verdict, members, alarms --------------------------------------------------------------

  const renderVerdict = (v) => {
    const section = $("verdict");
    section.dataset.state = v.state;
    $("verdict-words").textContent = v.words;
    const ul = $("verdict-reasons");
    clear(ul);
    for (const r of v.reasons) {
      const li = document.createElement("li");
      li.textContent = r;
      ul.appendChild(li);
    }
  };

  const renderMembers = (rows) => {
    // A summary for scripts and tests: how many members, leaders, unreachable ones.
    document.body.dataset.members = String(rows.length);
    document.body.dataset.leaders = String(rows.filter((r) => r.status?.role === "Leader").length);
    document.body.dataset.unreachable = String(rows.filter((r) => !r.reachable).length);
    const tbody = document.querySelector("#members tbody");
    clear(tbody);
    for (const r of rows) {
      const s = r.status;
      const tr = document.createElement("tr");
      tr.className = "member";
      tr.dataset.name = r.name;
      tr.dataset.reachable = String(r.reachable);
      tr.dataset.role = s ? s.role : "unknown";
      cell(tr, r.self ? `${r.name} (this member)` : r.name);
      const reach = cell(tr, r.reachable ? "yes" : `unreachable${r.error ? ` (${r.error})` : ""}`);
      if (!r.reachable) reach.className = "unreachable";
      cell(tr, s?.role);
      cell(tr, s?.term);
      cell(tr, s ? s.leaderName || "none" : undefined);
      cell(tr, r.isLearner ? "learner" : "voter");
      cell(tr, s?.commit);
      cell(tr, s?.applied);
      cell(
        tr,
        s && s.firstIndex !== null
          ? `${s.firstIndex}–${s.lastIndex} (${s.logEntries} entries)`
          : s?.lastIndex,
      );
      cell(tr, s?.snapshotIndex);
      if (s && s.role === "Leader") {
        cell(tr, s.lastIndex);
        cell(tr, "leader");
        cell(tr, "");
      } else {
        cell(tr, r.progress?.match);
        cell(tr, r.progress?.state);
        cell(tr, r.progress?.inflight);
      }
      const why = s ? [s.verdict, ...s.reasons].filter(Boolean).join("; ") : "";
      cell(tr, why);
      tbody.appendChild(tr);
    }
  };

  const renderAlarms = (rows) => {
    const alarms = rows.flatMap((r) =>
      (r.status?.alarms || []).map((a) => ({ member: r.name, ...a })),
    );
    $("alarms").hidden = alarms.length === 0;
    const ul = $("alarm-list");
    clear(ul);
    for (const a of alarms) {
      const li = document.createElement("li");
      li.textContent = `${a.member}: ${a.alarm} — ${a.reason}`;
      ul.appendChild(li);
    }
  };

  // ---- the live stream -----------------------------------------------------------------------

  const connect = () => {
    const events = new EventSource("/dashboard/events");
    events.addEventListener("open", () => {
      $("connection").dataset.state = "live";
      $("connection").textContent = "live";
    });
    events.addEventListener("error", () => {
      $("connection").dataset.state = "lost";
      $("connection").textContent = "connection to the member lost; retrying…";
    });
    events.addEventListener("history", (e) => {
      const h = JSON.parse(e.data);
      for (const k in data) data[k].length = 0;
      marks = [];
      for (const s of h.samples) pushSample(s);
      addMarks(h.marks);
      redraw();
    });
    events.addEventListener("tick", (e) => {
      const tick = JSON.parse(e.data);
      const self = tick.members.find((r) => r.self);
      $("served-by").textContent = `served by ${self ? self.name : tick.self}`;
      renderVerdict(tick.verdict);
      renderMembers(tick.members);
      renderAlarms(tick.members);
      pushSample(tick.sample);
      addMarks(tick.marks);
      redraw();
    });
  };

  // ---- keys ----------------------------------------------------------------------------------

  const showDetail = (k) => {
    $("key-detail").hidden = false;
    $("detail-key").textContent = showBytes(fromBase64(k.key)).text;
    $("detail-create").textContent = String(k.createRevision);
    $("detail-mod").textContent = String(k.modRevision);
    $("detail-version").textContent = String(k.version);
    $("detail-lease").textContent = k.lease ? String(k.lease) : "none";
    const value = fromBase64(k.value);
    const more = k.valueSize > value.length ? ` … (${k.valueSize} bytes in all)` : "";
    $("detail-value").textContent = showBytes(value).text + more;
    $("detail-hex").textContent = hexDump(value) + more;
  };

  $("key-search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const prefix = $("key-prefix").value;
    const summary = $("key-summary");
    summary.textContent = "searching…";
    try {
      const res = await fetch(`/dashboard/api/keys?prefix=${toBase64Url(prefix)}&limit=100`);
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
      const tbody = document.querySelector("#keys tbody");
      clear(tbody);
      for (const k of body.keys) {
        const tr = document.createElement("tr");
        tr.className = "key-row";
        bytesCell(tr, k.key);
        cell(tr, k.createRevision);
        cell(tr, k.modRevision);
        cell(tr, k.version);
        cell(tr, k.lease ? k.lease : "");
        cell(tr, `${k.valueSize} B`);
        tr.addEventListener("click", () => showDetail(k));
        tbody.appendChild(tr);
      }
      summary.textContent = `${body.count} key${body.count === 1 ? "" : "s"} at revision ${body.revision}${body.more ? ` (first ${body.keys.length} shown)` : ""}`;
    } catch (error) {
      summary.textContent = `failed: ${error.message}`;
    }
  });

  // ---- watch ---------------------------------------------------------------------------------

  let watch;
  const stopWatch = () => {
    if (watch) watch.close();
    watch = undefined;
    $("watch-button").textContent = "watch";
    $("watch-state").dataset.state = "idle";
    $("watch-state").textContent = "not watching";
  };
  $("watch-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (watch) {
      stopWatch();
      return;
    }
    const prefix = $("watch-prefix").value;
    const state = $("watch-state");
    const tbody = document.querySelector("#watch-events tbody");
    clear(tbody);
    watch = new EventSource(`/dashboard/watch?prefix=${toBase64Url(prefix)}`);
    $("watch-button").textContent = "stop";
    state.dataset.state = "connecting";
    state.textContent = "connecting…";
    watch.addEventListener("ready", (ev) => {
      const r = JSON.parse(ev.data);
      state.dataset.state = "watching";
      state.textContent = `watching "${prefix}" from revision ${r.revision}`;
    });
    watch.addEventListener("failed", (ev) => {
      state.dataset.state = "failed";
      state.textContent = `failed: ${JSON.parse(ev.data).error}`;
      watch.close();
      watch = undefined;
      $("watch-button").textContent = "watch";
    });
    watch.addEventListener("error", () => {
      if (!watch) return;
      state.dataset.state = "connecting";
      state.textContent = "watch connection lost; retrying…";
    });
    watch.addEventListener("event", (ev) => {
      const w = JSON.parse(ev.data);
      const tr = document.createElement("tr");
      tr.className = "watch-event";
      cell(tr, w.revision);
      cell(tr, w.type);
      bytesCell(tr, w.key);
      if (w.type === "DELETE") cell(tr, "");
      else bytesCell(tr, w.value);
      tbody.insertBefore(tr, tbody.firstChild);
      while (tbody.childElementCount > 100) tbody.removeChild(tbody.lastChild);
    });
  });

  connect();
})();
