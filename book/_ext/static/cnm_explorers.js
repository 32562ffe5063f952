// The book's explorers in the static HTML pages. cnm_minimal/widgets.py writes each one as a
// <div class="cnm-explorer" data-kind=...> with disabled controls, its picture at the values shown, and in
// data- attributes what is needed here:
//
//   iou, gaussian, samples, attention, ivc   recompute in the browser with the formulas below (no model);
//                                            data-checks holds states the package computed in Python, and
//                                            tools/check_site.py (in Chromium) and tests/test_widgets.py
//                                            (under Node) check that these formulas give the same numbers;
//   states                                   swaps between pictures precomputed in Python (data-config);
//   fixed                                    nothing: the controls stay disabled, with a note.
//
// No network and no library: plain SVG, and one <canvas> per attention map.
(function (global) {
  "use strict";

  // ---------------------------------------------------------------------------------------------
  // The formulas (no DOM)

  const MASK_EPS = 1e-10; // cnm_minimal.attention.MASK_EPS
  const IOU_EPS = 1e-10;  // cnm_minimal.metrics.EPS

  // cnm_minimal.gaussian_mask.gaussian_mask: m_i = exp(-alpha (t_i - c)^2 / max(w, 0.1)^2), t_i = i / (P - 1)
  function gaussianMask(c, w, P, alpha) {
    const spread = Math.max(w, 0.1);
    const m = [];
    for (let i = 0; i < P; i++) {
      const t = P > 1 ? i / (P - 1) : 0;
      m.push(Math.exp(-alpha * (t - c) * (t - c) / (spread * spread)));
    }
    return m;
  }

  // cnm_minimal.gaussian_mask.predict_segment: [max(c - w/2, 0), min(c + w/2, 1)]
  function predictSegment(c, w) {
    return [Math.max(c - w / 2, 0), Math.min(c + w / 2, 1)];
  }

  function weightedMean(weights, values) {
    let num = 0, den = 0;
    for (let i = 0; i < weights.length; i++) { num += weights[i] * values[i]; den += weights[i]; }
    return num / den;
  }

  function decodeFloat32(text) {
    const bytes = typeof atob === "function"
      ? Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0))
      : Uint8Array.from(Buffer.from(text, "base64"));
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }

  const compute = {
    // cnm_minimal.metrics.temporal_iou, and R@1 hits at each threshold
    iou(config, s) {
      const inter = Math.min(s.pe, s.ge) - Math.max(s.ps, s.gs);
      const union = Math.max(s.pe, s.ge) - Math.min(s.ps, s.gs);
      const iou = Math.max((inter + IOU_EPS) / (union + IOU_EPS), 0);
      return {iou, hits: config.thresholds.map((t) => (iou >= t ? 1 : 0))};
    },

    gaussian(config, s) {
      return {m: gaussianMask(s.c, s.w, s.P, s.alpha), segment: predictSegment(s.c, s.w)};
    },

    // cnm_minimal.negatives.mine_samples (m, all ones, 1 - m), then what each keeps of every signal
    samples(config, s) {
      const m = gaussianMask(s.c, s.w, config.signal[0].length, config.alpha);
      const weights = {positive: m, hard: m.map(() => 1), easy: m.map((x) => 1 - x)};
      const out = {};
      for (const [name, w] of Object.entries(weights)) { out[name] = config.signal.map((v) => weightedMean(w, v)); }
      return out;
    },

    // Eq. 6 on the unmasked per-head weights a: a'_ij = a_ij (m_j + 1e-10) [j <= i if causal] / sum_k (...),
    // then the heads averaged (the causal cut and the mask are both a renormalisation of a)
    attention(config, s) {
      if (!config.decoded) { config.decoded = decodeFloat32(config.weights); }
      const [H, T, S] = config.shape;
      const a = config.decoded;
      const m = gaussianMask(s.c, s.w, S, config.alpha);
      const map = Array.from({length: T}, () => new Array(S).fill(0));
      const row = new Float64Array(S);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          let sum = 0;
          for (let j = 0; j < S; j++) {
            row[j] = s.causal && j > i ? 0 : a[(h * T + i) * S + j] * (m[j] + MASK_EPS);
            sum += row[j];
          }
          for (let j = 0; j < S; j++) { map[i][j] += row[j] / sum / H; }
        }
      }
      return {map, mask: m, last_row: map[T - 1], middle_row: map[Math.floor(T / 2)]};
    },

    // chapter 7's toy: L(w) = -log(floor + sum(w r) / sum(w)); hinges of cnm_minimal.losses.ivc_loss
    ivc(config, s) {
      const r = config.relevance;
      const m = gaussianMask(s.c, s.w, r.length, config.alpha);
      const loss = (w) => -Math.log(config.floor + weightedMean(w, r));
      const lp = loss(m), lh = loss(m.map(() => 1)), le = loss(m.map((x) => 1 - x));
      const hard = Math.max(lp - lh + s.beta1, 0), easy = Math.max(lp - le + s.beta2, 0);
      return {m, lp, lh, le, hard, easy, total: hard + easy};
    },
  };

  // Compare the browser's numbers with the package's (data-checks): float32 in Python, float64 here.
  function compare(got, expected, path, problems) {
    if (Array.isArray(expected)) {
      if (!got || got.length !== expected.length) {
        problems.push(`${path}: ${got ? got.length : "no"} values, expected ${expected.length}`);
        return;
      }
      expected.forEach((value, k) => compare(got[k], value, `${path}[${k}]`, problems));
    } else if (typeof expected === "number") {
      if (!(Math.abs(got - expected) <= 1e-5 + 1e-4 * Math.abs(expected))) {
        problems.push(`${path}: ${got} here, ${expected} in Python`);
      }
    }
  }

  function check(kind, config, checks) {
    return checks.map(({state, expect}) => {
      const got = compute[kind](config, state);
      const problems = [];
      for (const [name, value] of Object.entries(expect)) { compare(got[name], value, name, problems); }
      return {state: JSON.stringify(state), ok: problems.length === 0, detail: problems.slice(0, 3).join("; ")};
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Drawing (SVG strings)

  const TAB = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"];
  const [BLUE, ORANGE, GREEN, RED, PURPLE, , , GRAY] = TAB;
  const VIRIDIS = ["#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e", "#26828e",
                   "#21918c", "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b", "#addc30", "#d8e219",
                   "#fde725"];

  const esc = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const n1 = (x) => (Math.round(x * 10) / 10).toString();

  function ticks(lo, hi, count) {
    const raw = (hi - lo) / count;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((k) => k * magnitude).find((k) => k >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) { out.push(v); }
    return {values: out, decimals: Math.max(0, -Math.floor(Math.log10(step) + 1e-9))};
  }

  function text(x, y, content, options = {}) {
    const anchor = options.anchor || "start";
    const size = options.size || 11;
    const extra = options.rotate ? ` transform="rotate(${options.rotate} ${n1(x)} ${n1(y)})"` : "";
    const colour = options.colour ? ` fill="${options.colour}"` : "";
    return `<text x="${n1(x)}" y="${n1(y)}" font-size="${size}" text-anchor="${anchor}"${colour}${extra}>` +
      `${esc(content)}</text>`;
  }

  // One set of axes: data -> pixel maps, and its frame with ticks, labels and a title.
  function axes(x, y, width, height, xlim, ylim) {
    const X = (v) => x + (v - xlim[0]) / (xlim[1] - xlim[0]) * width;
    const Y = (v) => y + height - (v - ylim[0]) / (ylim[1] - ylim[0]) * height;
    const frame = (options = {}) => {
      let out = `<rect x="${n1(x)}" y="${n1(y)}" width="${n1(width)}" height="${n1(height)}" fill="none" ` +
        `stroke="#333" stroke-width="0.8"/>`;
      if (options.xticks !== false) {
        const t = options.xticks || ticks(xlim[0], xlim[1], 5);
        for (const v of t.values) {
          out += line(X(v), y + height, X(v), y + height + 4, "#333");
          out += text(X(v), y + height + 15, (t.labels ? t.labels[t.values.indexOf(v)] : v.toFixed(t.decimals)),
                      {anchor: "middle", size: 10});
        }
      }
      if (options.yticks !== false) {
        const t = options.yticks || ticks(ylim[0], ylim[1], 5);
        t.values.forEach((v, k) => {
          out += line(x - 4, Y(v), x, Y(v), "#333");
          out += text(x - 6, Y(v) + 3.5, t.labels ? t.labels[k] : v.toFixed(t.decimals), {anchor: "end", size: 10});
        });
      }
      if (options.xlabel) { out += text(x + width / 2, y + height + 30, options.xlabel, {anchor: "middle"}); }
      if (options.ylabel) { out += text(x - 36, y + height / 2, options.ylabel, {anchor: "middle", rotate: -90}); }
      if (options.title) { out += text(x + width / 2, y - 7, options.title, {anchor: "middle", size: 11}); }
      return out;
    };
    return {X, Y, frame, x, y, width, height};
  }

  const rect = (x0, y0, x1, y1, fill, extra = "") =>
    `<rect x="${n1(Math.min(x0, x1))}" y="${n1(Math.min(y0, y1))}" width="${n1(Math.abs(x1 - x0))}" ` +
    `height="${n1(Math.abs(y1 - y0))}" fill="${fill}"${extra}/>`;

  const line = (x1, y1, x2, y2, colour, extra = "") =>
    `<line x1="${n1(x1)}" y1="${n1(y1)}" x2="${n1(x2)}" y2="${n1(y2)}" stroke="${colour}"${extra}/>`;

  const polyline = (points, colour, extra = "") =>
    `<polyline points="${points.map(([px, py]) => `${n1(px)},${n1(py)}`).join(" ")}" fill="none" ` +
    `stroke="${colour}" stroke-width="1.5"${extra}/>`;

  function legend(x, y, entries) {
    const wide = Math.max(...entries.map(([label]) => label.length)) * 5.6 + 28;
    let out = rect(x - 4, y - 12, x - 4 + wide, y - 12 + 14 * entries.length + 4, "#fff",
                   ' opacity="0.85" stroke="#ccc" stroke-width="0.8"');
    entries.forEach(([label, colour, style], k) => {
      const yy = y + 14 * k;
      out += style === "box" ? rect(x, yy - 8, x + 14, yy, colour, ' opacity="0.5"')
        : `<line x1="${x}" y1="${yy - 4}" x2="${x + 14}" y2="${yy - 4}" stroke="${colour}" stroke-width="1.5"` +
          `${style === "dash" ? ' stroke-dasharray="4 3"' : ""}/>`;
      out += text(x + 18, yy, label, {size: 10});
    });
    return out;
  }

  const svg = (width, height, body) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `${body}</svg>`;

  function heatmap(map, vmax) {
    const rows = map.length, cols = map[0].length;
    const canvas = document.createElement("canvas");
    canvas.width = cols; canvas.height = rows;
    const context = canvas.getContext("2d");
    const image = context.createImageData(cols, rows);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const u = Math.min(Math.max(map[i][j] / vmax, 0), 1) * (VIRIDIS.length - 1);
        const k = Math.min(Math.floor(u), VIRIDIS.length - 2), f = u - k;
        const [a, b] = [VIRIDIS[k], VIRIDIS[k + 1]].map((h) => [1, 3, 5].map((p) => parseInt(h.slice(p, p + 2), 16)));
        const at = 4 * (i * cols + j);
        for (let q = 0; q < 3; q++) { image.data[at + q] = Math.round(a[q] + f * (b[q] - a[q])); }
        image.data[at + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
    return canvas.toDataURL();
  }

  const draw = {
    // the same picture as cnm_minimal.widgets.iou_report_html
    iou(config, s, v) {
      const width = 560, x = (t) => 20 + t * (width - 40);
      let body = "";
      const [is, ie] = [Math.max(s.ps, s.gs), Math.min(s.pe, s.ge)];
      if (ie > is) { body += rect(x(is), 8, x(ie), 72, ORANGE, ' opacity="0.25"'); }
      body += rect(x(s.gs), 14, x(s.gs) + Math.max(x(s.ge) - x(s.gs), 1.5), 36, GREEN) + text(6, 30, "G");
      body += rect(x(s.ps), 44, x(s.ps) + Math.max(x(s.pe) - x(s.ps), 1.5), 66, BLUE) + text(6, 60, "P");
      body += line(x(0), 74, x(1), 74, "#444");
      for (const t of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
        body += line(x(t), 74, x(t), 80, "#444") +
          text(x(t), 94, t.toFixed(1), {anchor: "middle"});
      }
      const summary = `prediction [${s.ps.toFixed(2)}, ${s.pe.toFixed(2)}]  ground truth [${s.gs.toFixed(2)}, ` +
        `${s.ge.toFixed(2)}]  IoU = ${v.iou.toFixed(3)}`;
      const header = config.thresholds.map((t) => `<th>R@1, IoU=${t}</th>`).join("");
      const cells = v.hits.map((hit) => `<td>${hit ? "&#10003;" : "&#10007;"}</td>`).join("");
      return `<div>${svg(width, 100, body)}` +
        `<div class="cnm-readout" style="white-space:pre-wrap">${esc(summary)}</div>` +
        `<table class="cnm-hits"><tr>${header}</tr><tr>${cells}</tr></table></div>`;
    },

    gaussian(config, s, v) {
      const ax = axes(50, 24, 640, 170, [-0.02, 1.02], [0, 1.05]);
      const [a, b] = v.segment;
      const bar = 0.75 / Math.max(s.P - 1, 1);
      let body = rect(ax.X(a), ax.Y(0), ax.X(b), ax.Y(1.05), ORANGE, ' opacity="0.2"');
      v.m.forEach((m, i) => {
        const t = s.P > 1 ? i / (s.P - 1) : 0;
        body += rect(ax.X(t - bar / 2), ax.Y(0), ax.X(t + bar / 2), ax.Y(m), BLUE);
      });
      const title = `c = ${s.c.toFixed(2)}, w = ${s.w.toFixed(2)}, alpha = ${s.alpha.toFixed(1)}, P = ${s.P}`;
      body += ax.frame({xlabel: "slot position t", ylabel: "m", title});
      const label = `prediction [${a.toFixed(2)}, ${b.toFixed(2)}]`;
      body += legend(ax.x + ax.width - 150, ax.y + 16, [[label, ORANGE, "box"]]);
      return svg(720, 240, body);
    },

    samples(config, s, v) {
      const all = [].concat(v.positive, v.easy, v.hard, [0]);
      let lo = Math.min(...all), hi = Math.max(...all);
      const pad = 0.08 * (hi - lo || 1);
      lo -= lo < 0 ? pad : 0; hi += pad;
      const yt = ticks(lo, hi, 5);
      let body = "";
      ["positive", "easy", "hard"].forEach((sample, k) => {
        const ax = axes(70 + k * 215, 24, 195, 160, [-0.6, config.names.length - 0.4], [lo, hi]);
        v[sample].forEach((value, j) => {
          body += rect(ax.X(j - 0.4), ax.Y(0), ax.X(j + 0.4), ax.Y(value), TAB[j % 10]);
        });
        body += line(ax.x, ax.Y(0), ax.x + ax.width, ax.Y(0), "#000", ' stroke-width="0.5"');
        body += ax.frame({title: sample, yticks: k === 0 ? yt : false,
                          xticks: {values: config.names.map((_, j) => j), labels: config.names},
                          ylabel: k === 0 ? "average concept signal kept" : ""});
      });
      return svg(720, 215, body);
    },

    attention(config, s, v) {
      const S = v.mask.length, T = v.map.length;
      const left = axes(60, 24, 200, 200, [-0.5, S - 0.5], [T - 0.5, -0.5]);
      let body = `<image href="${heatmap(v.map, config.vmax)}" x="${left.x}" y="${left.y}" width="${left.width}" ` +
        `height="${left.height}" preserveAspectRatio="none" style="image-rendering:pixelated"/>`;
      body += left.frame({xlabel: "key clip", ylabel: "query clip", title: "attention (self, heads averaged)",
                          xticks: ticks(0, S - 1, 4), yticks: ticks(0, T - 1, 4)});
      const total = v.mask.reduce((p, q) => p + q, 0);
      const normalised = v.mask.map((m) => m / total);
      const top = Math.max(...v.last_row, ...normalised) * 1.05;
      const right = axes(340, 24, 380, 200, [0, S - 1], [0, top]);
      body += polyline(v.last_row.map((y, j) => [right.X(j), right.Y(y)]), BLUE);
      body += polyline(normalised.map((y, j) => [right.X(j), right.Y(y)]), ORANGE, ' stroke-dasharray="5 3"');
      body += right.frame({xlabel: "key clip", title: s.causal ? "causal" : "not causal"});
      body += legend(right.x + 8, right.y + 14, [["last query's attention", BLUE, "line"],
                                                 ["m (normalised)", ORANGE, "dash"]]);
      return svg(740, 265, body);
    },

    ivc(config, s, v) {
      const r = config.relevance, P = r.length;
      const t = r.map((_, i) => (P > 1 ? i / (P - 1) : 0));
      const left = axes(45, 24, 390, 170, [-0.03, 1.03], [0, 1.05]);
      const bar = 0.9 / Math.max(P - 1, 1);
      let body = "";
      r.forEach((value, i) => {
        const [x0, x1] = [left.X(t[i] - bar / 2), left.X(t[i] + bar / 2)];
        body += rect(x0, left.Y(0), x1, left.Y(value), ORANGE, ' opacity="0.5"');
      });
      body += polyline(v.m.map((m, i) => [left.X(t[i]), left.Y(m)]), BLUE);
      body += polyline(v.m.map((m, i) => [left.X(t[i]), left.Y(1 - m)]), GRAY, ' stroke-dasharray="5 3"');
      body += left.frame({xlabel: "slot position"});
      body += legend(left.x + 8, left.y + 14,
                     [["relevance r", ORANGE, "box"], ["m", BLUE, "line"], ["1 - m", GRAY, "dash"]]);

      const names = ["L^p", "L^h", "L^e", "hard hinge", "easy hinge"];
      const values = [v.lp, v.lh, v.le, v.hard, v.easy];
      const colours = [BLUE, GRAY, GRAY, RED, RED];
      const middle = axes(540, 24, 170, 170, [0, Math.max(...values, 0.1) * 1.08], [names.length - 0.4, -0.6]);
      values.forEach((value, k) => {
        body += rect(middle.X(0), middle.Y(k - 0.4), middle.X(value), middle.Y(k + 0.4), colours[k]);
      });
      body += middle.frame({title: `L_IVC = ${v.total.toFixed(3)}`,
                            yticks: {values: names.map((_, k) => k), labels: names}});

      const right = axes(760, 24, 200, 170, [-1, 1], [0, 1.55]);
      for (const [margin, gap, colour] of [[s.beta1, v.lp - v.lh, RED], [s.beta2, v.lp - v.le, PURPLE]]) {
        const points = [-1, -margin, 1].map((g) => [right.X(g), right.Y(Math.max(g + margin, 0))]);
        body += polyline(points, colour);
        const clamped = Math.max(-1, Math.min(1, gap));
        const [cx, cy] = [right.X(clamped), right.Y(Math.max(clamped + margin, 0))];
        body += `<circle cx="${n1(cx)}" cy="${n1(cy)}" r="3.5" fill="${colour}"/>`;
      }
      body += right.frame({xlabel: "gap L^p - L^neg", title: "hinge against the gap"});
      body += legend(right.x + 6, right.y + 14, [[`hard: max(gap + ${s.beta1.toFixed(2)}, 0)`, RED, "line"],
                                                 [`easy: max(gap + ${s.beta2.toFixed(2)}, 0)`, PURPLE, "line"]]);
      return svg(980, 240, body);
    },

    states(config, s) {
      const key = Object.values(s).join(",");
      return `<img src="${config.images[key]}" alt=""/>`;
    },
  };

  // ---------------------------------------------------------------------------------------------
  // The page: enable the controls of each explorer and redraw on every move

  function controlsOf(root) {
    return Array.from(root.querySelectorAll(".cnm-controls [name]"));
  }

  function readState(root) {
    const state = {};
    for (const input of controlsOf(root)) {
      if (input.type === "checkbox") { state[input.name] = input.checked; }
      else if (input.tagName === "SELECT" || input.dataset.labels) { state[input.name] = parseInt(input.value, 10); }
      else { state[input.name] = parseFloat(input.value); }
    }
    return state;
  }

  function showReadouts(root) {
    for (const input of controlsOf(root)) {
      const output = input.parentElement.querySelector("output");
      if (!output) { continue; }
      output.textContent = input.dataset.labels ? JSON.parse(input.dataset.labels)[parseInt(input.value, 10)]
        : parseFloat(input.value).toFixed(parseInt(input.dataset.decimals || "2", 10));
    }
  }

  // a segment's start never passes its end (as the range sliders of the notebook)
  function keepOrdered(root, moved) {
    const pairs = {ps: "pe", pe: "ps", gs: "ge", ge: "gs"};
    if (!moved || !pairs[moved.name]) { return; }
    const other = root.querySelector(`[name="${pairs[moved.name]}"]`);
    const isStart = moved.name.endsWith("s");
    const [a, b] = [parseFloat(moved.value), parseFloat(other.value)];
    if (isStart ? a > b : a < b) { other.value = moved.value; }
  }

  function start(root) {
    const kind = root.dataset.kind;
    if (!draw[kind] || root.dataset.ready === "true") { return; }
    const config = JSON.parse(root.dataset.config || "{}");
    const picture = root.querySelector(".cnm-picture");
    const redraw = (event) => {
      if (kind === "iou") { keepOrdered(root, event && event.target); }
      const state = readState(root);
      showReadouts(root);
      picture.innerHTML = draw[kind](config, state, compute[kind] ? compute[kind](config, state) : null);
    };
    for (const input of controlsOf(root)) {
      input.disabled = false;
      input.addEventListener("input", redraw);
      input.addEventListener("change", redraw);
    }
    redraw(null);
    root.dataset.ready = "true";
  }

  function runChecks(root) {
    const config = JSON.parse(root.dataset.config || "{}");
    return check(root.dataset.kind, config, JSON.parse(root.dataset.checks || "[]"));
  }

  function startAll() {
    document.querySelectorAll(".cnm-explorer").forEach((root) => {
      try { start(root); } catch (error) { console.error("cnm_explorers.js: explorer not started:", error); }
    });
  }

  const api = {compute, check, gaussianMask, predictSegment, runChecks, start};
  if (typeof module === "object" && module.exports) { module.exports = api; }
  if (typeof document !== "undefined") {
    global.CNMExplorers = api;
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", startAll); }
    else { startAll(); }
  }
})(typeof window !== "undefined" ? window : globalThis);
