// TAAF Studio's chart: one plotly div, drawn once and then updated in place with Plotly.react.
// data = {fig: figure JSON string (a static chart)} or {src: URL of a live figure, every: seconds}
//        plus {plotly: URL of plotly.js, height: px}.
// A live chart polls `src` with the version it holds: 204 = unchanged (nothing is drawn), 200 = a new
// figure. It stops while the tab is hidden or the chart is scrolled out of view, and when the run stops
// moving; it waits longer after costly redraws (each chart keeps its redraws under BUDGET of the
// browser's main thread) but never more than MAX_WAIT_MS, so what it shows is at most ~3 s old. The cost is
// a moving average of the redraws (one slow frame does not stall the chart); a first draw (plotly's
// newPlot) does not count.
const BUDGET = 0.05;
const MAX_WAIT_MS = 2500;
// Figures for papers: the camera button saves a PNG at 3x; the button beside it an SVG (vector: LaTeX, Inkscape).
// Both on white with black text, at the size the chart has on screen.
const PAPER_SVG = {
  name: "Download plot as SVG (vector, for papers)",
  icon: {width: 1000, height: 1000, path: "M150 100h500l200 200v600h-700zM600 150v200h200M300 500h400M300 650h400M300 800h250"},
  click: (gd) => window.Plotly.downloadImage({data: gd.data, layout: Object.assign({}, gd.layout, {
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
    font: Object.assign({}, gd.layout.font, {color: "#000000"})})},
    {format: "svg", filename: "taaf-figure", width: gd.offsetWidth || 900, height: gd.offsetHeight || 450}),
};
const CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToAdd: [PAPER_SVG],
                toImageButtonOptions: {format: "png", scale: 3, filename: "taaf-figure"}};

// `?cadence=N` in the page's URL (1 to 100) polls and redraws N times as often: the long-run memory bench and
// test (bench/bench_live_memory.py) live through an hour of updates in minutes. Read once, at the first mount.
function cadence() {
  if (window.__taafCadence === undefined) {
    const n = Number(new URLSearchParams(location.search).get("cadence"));
    window.__taafCadence = Number.isFinite(n) && n >= 1 ? Math.min(n, 100) : 1;
  }
  return window.__taafCadence;
}

function loadPlotly(url) {
  if (!window.__taafPlotly) {
    window.__taafPlotly = new Promise((resolve, reject) => {
      if (window.Plotly) return resolve(window.Plotly);
      const s = document.createElement("script");
      s.src = url;
      s.onload = () => resolve(window.Plotly || window.moduleName);  // (the partial bundles' UMD name)
      s.onerror = () => { window.__taafPlotly = null; reject(new Error("cannot load " + url)); };
      document.head.appendChild(s);
    });
  }
  return window.__taafPlotly;
}

// Draws go one at a time, each after the browser has painted: nine first draws in one task would hold
// the first chart's paint back until the last one is done.
let drawQueue = Promise.resolve();

function afterPaint() {
  return new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

function draw(chart, fig) {
  const run = drawQueue.then(afterPaint).then(() => drawNow(chart, fig));
  drawQueue = run.catch(() => {});
  return run;
}

async function drawNow(chart, fig) {
  const Plotly = await loadPlotly(chart.plotly);
  if (chart.closed) return;  // unmounted while queued: a draw would hook its div to the window again
  if (chart.fill) delete fig.layout.height;  // the presenter: the chart fills its box
  const t0 = performance.now();
  await Plotly.react(chart.div, fig.data, fig.layout, CONFIG);
  const draws = Number(chart.div.dataset.draws || 0) + 1;
  const cost = performance.now() - t0;
  if (draws > 1) chart.cost = chart.cost ? 0.7 * chart.cost + 0.3 * cost : cost;
  chart.div.dataset.draws = String(draws);
  chart.div.dataset.cost = chart.cost.toFixed(1);  // ms, moving average of the redraws
  chart.note.textContent = "";
}

function schedule(chart, delayMs) {
  clearTimeout(chart.timer);
  chart.timer = setTimeout(() => poll(chart), delayMs / cadence());
}

async function poll(chart) {
  const src = chart.src;
  if (!src || chart.closed) return;
  // Nothing is redrawn that nobody sees: a hidden tab, or (once drawn) a chart scrolled out of view.
  // visibilitychange / the IntersectionObserver poll again when it shows.
  if (document.hidden || (chart.inView === false && chart.div.dataset.draws)) { chart.waiting = true; return; }
  if (chart.inView === false && !chart.deferred) {  // the charts in view draw first
    chart.deferred = true;
    schedule(chart, 1000);
    return;
  }
  let next = chart.every * 1000;
  try {
    const sep = src.includes("?") ? "&" : "?";
    const r = await fetch(src + sep + "v=" + encodeURIComponent(chart.version || ""), {cache: "no-store"});
    if (src !== chart.src || chart.closed) return;  // the controls changed meanwhile: a newer poll runs
    if (r.status === 200) {
      const body = await r.json();
      await draw(chart, body.fig);
      chart.version = body.v;
      if (body.live === false) chart.done = true;
    } else if (r.status !== 204) {
      const body = await r.json().catch(() => ({}));
      chart.note.textContent = body.error || ("the studio answered " + r.status);
      next = Math.max(next, 5000);
    }
  } catch (e) {
    chart.note.textContent = "waiting for the studio…";
    next = Math.max(next, 5000);
  }
  if (!chart.done) schedule(chart, Math.max(next, Math.min(chart.cost / BUDGET, MAX_WAIT_MS)));
}

export default function (component) {
  const {data, parentElement} = component;
  let chart = parentElement.__taafChart;
  if (!chart) {
    const div = document.createElement("div");
    div.className = "taaf-chart";
    const note = document.createElement("div");
    note.className = "taaf-chart-note";
    parentElement.appendChild(div);
    parentElement.appendChild(note);
    chart = parentElement.__taafChart = {div, note, version: null, cost: 0, timer: null, src: null, key: null};
    chart.onVisible = () => {
      if (!document.hidden && chart.inView !== false && chart.waiting) { chart.waiting = false; schedule(chart, 0); }
    };
    document.addEventListener("visibilitychange", chart.onVisible);
    chart.inView = undefined;  // until the observer's first report: treated as in view
    chart.seen = new IntersectionObserver(entries => {
      chart.inView = entries[entries.length - 1].isIntersecting;
      chart.onVisible();
    }, {rootMargin: "100px"});
    chart.seen.observe(div);
  }
  chart.plotly = data.plotly;
  loadPlotly(chart.plotly).catch(e => { chart.note.textContent = String(e); });  // while the figure travels
  chart.every = data.every || 2;
  chart.fill = data.fill;  // px kept free below the chart: it fills the rest of the window's height
  if (chart.fill) chart.div.style.height = "calc(100vh - " + data.fill + "px)";
  else chart.div.style.minHeight = (data.height || 300) + "px";
  const key = data.fig !== undefined ? data.fig : data.src;
  if (key === chart.key) return () => close(chart);  // a rerun with the same data: nothing to do
  chart.key = key;
  if (data.fig !== undefined) {
    chart.src = null;
    clearTimeout(chart.timer);
    draw(chart, JSON.parse(data.fig)).catch(e => { chart.note.textContent = String(e); });
  } else {
    chart.src = data.src;
    chart.version = null;
    chart.done = false;
    // The first look comes at once; later ones are spread over the cadence so charts do not draw together.
    schedule(chart, chart.div.dataset.draws ? 0 : Math.random() * 150);
  }
  return () => close(chart);
}

function close(chart) {
  chart.closed = true;
  clearTimeout(chart.timer);
  chart.seen.disconnect();
  document.removeEventListener("visibilitychange", chart.onVisible);
  // plotly's `responsive` hangs a resize listener on the window that holds the div, its figure and its SVG:
  // without a purge every unmounted chart (the presenter changes group every 12 s in autoplay) stayed in memory.
  if (window.Plotly && chart.div.dataset.draws) window.Plotly.purge(chart.div);
}
