// ember playground: draws the server's snapshots; every number comes from ember in the server.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const CLASS0 = [245, 147, 34];  // orange
const CLASS1 = [8, 119, 189];  // blue
let latest = null;
let scheduled = false;
let synced = false;

function $(id) { return document.getElementById(id); }

function el(name, attrs, parent, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function fmt(x, digits = 3) {
  return x === null || x === undefined ? "–" : Number(x).toPrecision(digits);
}

// -- talking to the server -------------------------------------------------------------------
function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function post(action, body) {
  let reply;
  try {
    const response = await fetch("/api/" + action, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body || {}),
    });
    reply = await response.json();
  } catch (err) {
    showError("the playground server does not answer: " + err.message);
    return null;
  }
  showError(reply.error);
  return reply.error ? null : reply;
}

// -- controls --------------------------------------------------------------------------------
function controlValue(input) {
  if (input.type === "checkbox") return input.checked;
  return input.value;
}

function setControl(input, value) {
  if (input.type === "checkbox") input.checked = value;
  else input.value = value;
  const shown = document.querySelector(`output[for="${input.id}"]`);
  if (shown) shown.textContent = input.value;
}

function syncControls(config) {
  for (const [name, value] of Object.entries(config)) {
    const input = $("set-" + name);
    if (input) setControl(input, value);
  }
}

async function changed(input) {
  const reply = await post("configure", {[input.dataset.setting]: controlValue(input)});
  document.querySelectorAll("#controls .bad").forEach((n) => n.classList.remove("bad"));
  if (reply) syncControls(reply.config);
  else input.classList.add("bad");
}

function buildControls(settings) {
  const form = $("controls");
  const groups = {};
  for (const s of settings) {
    if (!groups[s.group]) {
      const fs = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = s.group;
      fs.appendChild(legend);
      form.appendChild(fs);
      groups[s.group] = fs;
    }
    const row = document.createElement("div");
    row.className = "row";
    row.title = s.help;
    const label = document.createElement("label");
    label.htmlFor = "set-" + s.name;
    label.textContent = s.name.replace(/_/g, " ");
    row.appendChild(label);
    let input;
    if (s.kind === "choice") {
      input = document.createElement("select");
      for (const c of s.choices) {
        const option = document.createElement("option");
        option.value = option.textContent = c;
        input.appendChild(option);
      }
    } else {
      input = document.createElement("input");
      if (s.kind === "bool") input.type = "checkbox";
      else {
        input.type = s.slider ? "range" : "number";
        input.min = s.lo;
        input.max = s.hi;
        input.step = s.kind === "int" ? 1 : (s.slider ? 0.05 : "any");
      }
    }
    input.id = "set-" + s.name;
    input.dataset.setting = s.name;
    row.appendChild(input);
    if (s.slider) {
      const shown = document.createElement("output");
      shown.htmlFor = input.id;
      row.appendChild(shown);
      input.addEventListener("input", () => { shown.textContent = input.value; });
    }
    input.addEventListener("change", () => changed(input));
    setControl(input, s.default);
    groups[s.group].appendChild(row);
  }
  form.addEventListener("submit", (e) => e.preventDefault());
}

// -- views -----------------------------------------------------------------------------------
function drawBoundary(snap) {
  const canvas = $("boundary");
  const ctx = canvas.getContext("2d");
  const n = snap.grid;
  const small = document.createElement("canvas");
  small.width = small.height = n;
  const sctx = small.getContext("2d");
  const image = sctx.createImageData(n, n);
  let class1 = 0;
  snap.boundary.forEach((value, i) => {
    const p = value === null ? 0.5 : value;  // null: the network's output is not finite
    if (p > 0.5) class1 += 1;
    const towards = p < 0.5 ? CLASS0 : CLASS1;
    const strength = 0.6 * Math.abs(2 * p - 1);  // white where the network is unsure
    for (let c = 0; c < 3; c++) image.data[4 * i + c] = 255 - strength * (255 - towards[c]);
    image.data[4 * i + 3] = 255;
  });
  sctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  const e = snap.extent;
  const at = (x, y) => [(x + e) / (2 * e) * canvas.width, (e - y) / (2 * e) * canvas.height];
  for (const [set, filled] of [[snap.train, true], [snap.val, false]]) {
    for (const [x, y, label] of set) {
      const [px, py] = at(x, y);
      ctx.beginPath();
      ctx.arc(px, py, 3, 0, 2 * Math.PI);
      const colour = `rgb(${(label ? CLASS1 : CLASS0).join(",")})`;
      ctx.lineWidth = 1.2;
      if (filled) {
        ctx.fillStyle = colour;
        ctx.fill();
        ctx.strokeStyle = "#fff";
      } else ctx.strokeStyle = colour;
      ctx.stroke();
    }
  }
  canvas.dataset.step = snap.step;
  canvas.dataset.points = snap.train.length + snap.val.length;
  canvas.dataset.class1 = (class1 / snap.boundary.length).toFixed(3);
}

function drawLoss(snap) {
  const svg = $("loss");
  clear(svg);
  const W = 380, H = 300, L = 44, R = 10, T = 12, B = 32;
  const train = snap.history.loss, val = snap.history.val_loss;
  const all = train.concat(val).filter((v) => v !== null && isFinite(v));
  const top = all.length ? Math.max(...all) * 1.05 : 1;
  const n = Math.max(train.length, 2);
  const x = (i) => L + (W - L - R) * i / (n - 1);
  const y = (v) => T + (H - T - B) * (1 - Math.min(v, top) / top);
  el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis"}, svg);
  el("line", {x1: L, y1: T, x2: L, y2: H - B, class: "axis"}, svg);
  for (const v of [0, top / 2, top]) {
    el("text", {x: L - 4, y: y(v) + 4, "text-anchor": "end"}, svg, fmt(v, 2));
  }
  el("text", {x: (L + W) / 2, y: H - 8, "text-anchor": "middle"}, svg,
     `epoch (${train.length} done)`);
  for (const [id, values, colour] of [["loss-train", train, "#1565c0"], ["loss-val", val, "#e65100"]]) {
    const points = values.map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`))
      .filter((p) => p !== null).join(" ");
    el("polyline", {id, points, fill: "none", stroke: colour, "stroke-width": 2,
                    "data-n": values.length, "data-last": values.length ? values[values.length - 1] : ""}, svg);
  }
}

function layerLabel(name) {
  const m = name.match(/hidden\.(\d+)/);
  return m ? String(Number(m[1]) + 1) : name;
}

function drawGradients(snap) {
  const svg = $("gradients");
  clear(svg);
  const W = 380, H = 300, L = 46, R = 8, T = 12, B = 34;
  const layers = snap.gradients;
  if (!layers.length) {
    el("text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, svg, "gradients appear after a few steps");
    svg.dataset.layers = 0;
    return;
  }
  const logs = layers.filter((g) => g.rms > 0 && g.rms !== null).map((g) => Math.log10(g.rms));
  let hi = logs.length ? Math.ceil(Math.max(...logs)) : 0;
  let lo = logs.length ? Math.floor(Math.min(...logs)) : -2;
  if (hi - lo < 2) lo = hi - 2;
  const decade = (H - T - B) / (hi - lo);
  svg.dataset.layers = layers.length;
  svg.dataset.decadePx = decade.toFixed(4);
  svg.dataset.lo = lo;
  const every = Math.ceil((hi - lo) / 8);
  for (let d = lo; d <= hi; d += every) {
    const yy = H - B - (d - lo) * decade;
    el("line", {x1: L, y1: yy, x2: W - R, y2: yy, stroke: "#eee"}, svg);
    el("text", {x: L - 4, y: yy + 4, "text-anchor": "end"}, svg, `1e${d}`);
  }
  el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis"}, svg);
  const slot = (W - L - R) / layers.length;
  layers.forEach((g, i) => {
    const height = g.rms > 0 ? (Math.log10(g.rms) - lo) * decade : 0;
    const shade = Math.round(200 * Math.min(1, (hi - Math.log10(g.rms || 1e-30)) / 6));
    const bar = el("rect", {
      x: (L + i * slot + slot * 0.15).toFixed(1), y: (H - B - height).toFixed(1),
      width: (slot * 0.7).toFixed(1), height: height.toFixed(1),
      fill: `rgb(${shade}, ${120 - shade / 3}, ${220 - shade})`,
      class: "grad-bar", "data-layer": g.name, "data-rms": g.rms,
    }, svg);
    el("title", {}, bar, `${g.name}: gradient RMS ${fmt(g.rms)}`);
    el("text", {x: L + (i + 0.5) * slot, y: H - B + 14, "text-anchor": "middle"}, svg, layerLabel(g.name));
  });
  el("text", {x: (L + W) / 2, y: H - 4, "text-anchor": "middle"}, svg, "layer");
}

function drawSpeed(snap) {
  const svg = $("speed");
  clear(svg);
  const s = snap.speed;
  if (!s) {
    el("text", {x: 10, y: 60}, svg, "measured when training starts");
    return;
  }
  if (s.error) {
    el("text", {x: 10, y: 60, class: "speed-error"}, svg, "jit: " + s.error.slice(0, 60));
    return;
  }
  const top = Math.max(s.eager_ms, s.jit_ms);
  [["eager", s.eager_ms, "#78909c"], ["jit", s.jit_ms, "#2e7d32"]].forEach(([name, ms, colour], i) => {
    const y = 14 + i * 40;
    el("text", {x: 4, y: y + 18}, svg, name);
    el("rect", {x: 50, y, width: (170 * ms / top).toFixed(1), height: 26, fill: colour,
                class: "speed-bar", "data-mode": name, "data-ms": ms}, svg);
    el("text", {x: 56 + 170 * ms / top, y: y + 18}, svg, `${fmt(ms, 3)} ms`);
  });
  el("text", {x: 4, y: 118}, svg,
     `median of ${s.steps} steps: jit ${fmt(s.eager_ms / s.jit_ms, 2)}× the eager speed`);
}

function drawFindings(snap) {
  const list = $("findings");
  clear(list);
  if (!snap.findings.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = snap.step ? "no problem found so far" : "train to see what the detectors find";
    list.appendChild(li);
  }
  for (const f of snap.findings) {
    const li = document.createElement("li");
    li.className = "finding " + f.severity;
    li.dataset.kind = f.kind;
    li.dataset.severity = f.severity;
    const sev = document.createElement("span");
    sev.className = "severity";
    sev.textContent = f.severity + " ";
    const title = document.createElement("b");
    title.textContent = f.kind.replace(/_/g, " ") + ": ";
    const tip = document.createElement("div");
    tip.className = "try";
    tip.textContent = "try: " + f.suggestion;
    li.append(sev, title, f.evidence, tip);
    list.appendChild(li);
  }
}

function drawGraph(snap) {
  const svg = $("graph");
  const g = snap.graph;
  if (!g || svg.dataset.key === JSON.stringify([g.nodes.length, g.edges.length, snap.config])) return;
  svg.dataset.key = JSON.stringify([g.nodes.length, g.edges.length, snap.config]);
  clear(svg);
  // each node as far right as its consumers allow: a parameter sits just before its use
  const toLoss = {};  // the longest path from the node to the loss
  for (const n of g.nodes) toLoss[n.id] = 0;
  for (let pass = 0, moved = true; moved && pass < g.nodes.length; pass++) {
    moved = false;
    for (const [a, b] of g.edges) {
      if (toLoss[a] < toLoss[b] + 1) { toLoss[a] = toLoss[b] + 1; moved = true; }
    }
  }
  const deepest = Math.max(...Object.values(toLoss));
  const rank = {};
  for (const n of g.nodes) rank[n.id] = deepest - toLoss[n.id];
  const columns = {};
  for (const n of g.nodes) (columns[rank[n.id]] = columns[rank[n.id]] || []).push(n);
  const DX = 66, DY = 26, W = 56, Hn = 16, M = 10;
  const pos = {};
  let rows = 1, ranks = 0;
  for (const [r, nodes] of Object.entries(columns)) {
    nodes.forEach((n, i) => { pos[n.id] = [M + Number(r) * DX, M + i * DY]; });
    rows = Math.max(rows, nodes.length);
    ranks = Math.max(ranks, Number(r) + 1);
  }
  const width = M * 2 + ranks * DX, height = M * 2 + rows * DY;
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.dataset.nodes = g.nodes.length;
  svg.dataset.edges = g.edges.length;
  for (const [a, b] of g.edges) {
    const [x1, y1] = pos[a], [x2, y2] = pos[b];
    el("line", {x1: x1 + W, y1: y1 + Hn / 2, x2, y2: y2 + Hn / 2, stroke: "#b0bec5", class: "edge"}, svg);
  }
  const fills = {op: "#eceff1", param: "#bbdefb", input: "#e0e0e0"};
  for (const n of g.nodes) {
    const [x, y] = pos[n.id];
    const label = n.label.replace("\n", " ");
    const node = el("g", {class: "node", "data-kind": n.kind, "data-label": label}, svg);
    el("rect", {x, y, width: W, height: Hn, rx: n.kind === "op" ? 2 : 8, fill: fills[n.kind],
                stroke: "#78909c"}, node);
    const name = n.kind === "op" ? n.label.split("\n")[0] : (n.label.split("\n")[1] ? n.label.split("\n")[0] : n.label);
    el("text", {x: x + W / 2, y: y + 12, "text-anchor": "middle", "font-size": 9}, node,
       name.length > 11 ? name.slice(0, 10) + "…" : name);
    el("title", {}, node, label);
  }
}

function drawStatus(snap) {
  const status = $("status");
  const h = snap.history;
  const last = (a) => (a.length ? a[a.length - 1] : null);
  status.dataset.status = snap.status;
  const c = snap.config;
  const net = `${c.depth} × ${c.width} ${c.activation}${c.residual ? " residual" : ""}`;
  status.textContent = `${snap.status} · ${net} · epoch ${snap.epoch} · step ${snap.step}` +
    ` · loss ${fmt(last(h.loss))}` +
    ` · val loss ${fmt(last(h.val_loss))} · val accuracy ${fmt(last(h.val_accuracy))}`;
  if (snap.error) showError(snap.error);
}

function render() {
  scheduled = false;
  const snap = latest;
  if (!synced) { syncControls(snap.config); synced = true; }
  drawStatus(snap);
  drawBoundary(snap);
  drawLoss(snap);
  drawGradients(snap);
  drawSpeed(snap);
  drawFindings(snap);
  drawGraph(snap);
}

// Settings in the address, as the course's links give them (?activation=sigmoid&depth=10),
// configure the session once the page has loaded; the server checks them like any change.
async function applyAddress(settings) {
  const query = new URLSearchParams(location.search);
  if (query.size === 0) return;
  const bools = new Set(settings.filter((s) => s.kind === "bool").map((s) => s.name));
  const changes = {};
  for (const [name, value] of query) {
    changes[name] = bools.has(name) && ["true", "false"].includes(value) ? value === "true" : value;
  }
  const reply = await post("configure", changes);
  if (!reply) return;
  syncControls(reply.config);
  synced = true;  // an older snapshot still in flight must not reset the controls
}

async function main() {
  const settings = await (await fetch("/api/settings")).json();
  buildControls(settings);
  await applyAddress(settings);
  for (const action of ["start", "pause", "step", "reset"]) {
    $(action).addEventListener("click", () => post(action));
  }
  const events = new EventSource("/events");
  events.onmessage = (message) => {
    latest = JSON.parse(message.data);
    if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
  };
  events.onerror = () => { $("status").textContent = "disconnected: reconnecting…"; };
}

main();
