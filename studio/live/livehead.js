// The live run bar: progress, status, step, epoch, fused validation accuracy and speed, polled every
// `every` seconds from data.src. When the run's status changes (paused, finished, failed...), it asks
// Streamlit for a rerun (trigger "status"), so the page swaps its buttons or shows the finished run.
function pct(x) { return (100 * x).toFixed(1) + "%"; }

function render(bar, h) {
  const seen = JSON.stringify(h);
  if (seen === bar.seen) return;  // nothing new: touch nothing
  bar.seen = seen;
  const total = h.total ? " / " + h.total : "";
  const frac = h.total ? Math.min(1, Math.max(0, h.step / h.total)) : 0;
  // A transform, not the width, and no transition: an animated width re-laid out the whole page every frame
  // (a fifth of the browser's main thread while live).
  bar.fill.style.transform = "scaleX(" + frac.toFixed(4) + ")";
  bar.text.innerHTML = "";
  const b = document.createElement("b");
  b.textContent = h.name;
  bar.text.append(b, " — " + h.status + " · step " + h.step + total);
  const values = {
    step: h.step + total,
    epoch: h.epoch + (h.epochs ? " / " + h.epochs : ""),
    val: h.val === null ? "—" : pct(h.val),
    sps: h.sps === null ? "—" : Math.round(h.sps).toString(),
  };
  for (const k in values) bar.values[k].textContent = values[k];
  const d = bar.delta;
  // a change that rounds to 0.0 % is no change: no arrow, no colour
  const dir = h.val_delta === null ? "" : Math.abs(h.val_delta) < 0.0005 ? "same" : h.val_delta > 0 ? "up" : "down";
  d.textContent = {"": "", same: "= no change", up: "▲ +" + pct(h.val_delta), down: "▼ " + pct(h.val_delta)}[dir];
  d.className = "taaf-delta " + dir;
  bar.root.dataset.step = String(h.step);
  bar.root.dataset.status = h.status;
}

function build(parent) {
  const root = document.createElement("div");
  root.className = "taaf-head";
  root.innerHTML = `<div class="taaf-progress"><div class="taaf-fill"></div></div><div class="taaf-text"></div>
    <div class="taaf-metrics">
      <div><div class="taaf-label">step</div><div class="taaf-value" data-k="step">—</div></div>
      <div><div class="taaf-label">epoch</div><div class="taaf-value" data-k="epoch">—</div></div>
      <div><div class="taaf-label">fused val acc</div><div class="taaf-value" data-k="val">—</div>
        <div class="taaf-delta"></div></div>
      <div title="training speed, median of the last 20 steps (— while paused)"><div class="taaf-label">samples / s</div>
        <div class="taaf-value" data-k="sps">—</div></div>
    </div>`;
  parent.appendChild(root);
  const values = {};
  root.querySelectorAll("[data-k]").forEach(e => { values[e.dataset.k] = e; });
  return {root, values, fill: root.querySelector(".taaf-fill"), text: root.querySelector(".taaf-text"),
          delta: root.querySelector(".taaf-delta"), timer: null};
}

async function poll(bar) {
  if (bar.closed || !bar.src) return;
  if (document.hidden) { bar.waiting = true; return; }
  const src = bar.src;
  let next = bar.every * 1000;
  try {
    const r = await fetch(src, {cache: "no-store"});
    if (src !== bar.src || bar.closed) return;
    if (r.ok) {
      const h = await r.json();
      render(bar, h);
      if (h.status !== bar.status && !bar.asked) {
        bar.asked = true;  // one rerun per change: the page then mounts the bar again with the new status
        bar.setTriggerValue("status", h.status);
      }
    } else {
      next = 2000;
    }
  } catch (e) {
    next = 2000;
  }
  clearTimeout(bar.timer);
  bar.timer = setTimeout(() => poll(bar), next);
}

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  let bar = parentElement.__taafHead;
  if (!bar) {
    bar = parentElement.__taafHead = build(parentElement);
    bar.onVisible = () => {
      if (!document.hidden && bar.waiting) { bar.waiting = false; poll(bar); }
    };
    document.addEventListener("visibilitychange", bar.onVisible);
  }
  bar.setTriggerValue = setTriggerValue;
  bar.every = data.every || 0.25;
  if (data.initial) render(bar, data.initial);
  if (bar.src !== data.src || bar.status !== data.status) {
    bar.src = data.src;
    bar.status = data.status;
    bar.asked = false;
    clearTimeout(bar.timer);
    if (bar.src) poll(bar);
  }
  return () => {
    bar.closed = true;
    clearTimeout(bar.timer);
    document.removeEventListener("visibilitychange", bar.onVisible);
  };
}
