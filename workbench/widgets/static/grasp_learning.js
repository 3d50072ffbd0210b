// GraspTrainingWidget front end: a dataset box, Run / Cancel, and the training curves as SVG,
// redrawn whenever the kernel appends an epoch. Colours come from JupyterLab's theme variables.

function node(tag, attrs = {}, text = "") {
  const ns = ["svg", "path", "line", "text", "g"].includes(tag) ? "http://www.w3.org/2000/svg" : null;
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

const SERIES = [
  ["train_loss", "training loss", "var(--jp-brand-color1, #1976d2)", "loss"],
  ["val_loss", "held-out loss", "var(--jp-warn-color1, #f57c00)", "loss"],
  ["val_top10", "held-out top-10 success", "var(--jp-success-color1, #388e3c)", "rate"],
  ["val_accuracy", "held-out accuracy", "var(--jp-ui-font-color2, #757575)", "rate"],
];

function draw(svg, curves) {
  svg.replaceChildren();
  const w = 460, h = 220, pad = 36;
  if (!curves.length) {
    svg.append(node("text", { x: pad, y: h / 2, fill: "var(--jp-ui-font-color2, #777)" }, "no epochs yet"));
    return;
  }
  const last = curves[curves.length - 1].epoch;
  const maxLoss = Math.max(1e-6, ...curves.flatMap((c) => [c.train_loss, c.val_loss]));
  const x = (e) => pad + ((w - 2 * pad) * (e - 1)) / Math.max(1, last - 1);
  const y = (v, kind) => h - pad - (h - 2 * pad) * (kind === "loss" ? v / maxLoss : v);
  svg.append(node("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, stroke: "var(--jp-border-color1, #999)" }));
  svg.append(node("text", { x: w / 2, y: h - 8, "text-anchor": "middle", fill: "var(--jp-ui-font-color1, #222)",
                            "font-size": "11" }, `epoch (1-${last}); loss scaled to ${maxLoss.toFixed(2)}, rates 0-1`));
  SERIES.forEach(([key, label, colour, kind], i) => {
    const d = curves.map((c, j) => `${j ? "L" : "M"}${x(c.epoch).toFixed(1)},${y(c[key], kind).toFixed(1)}`).join(" ");
    svg.append(node("path", { d, fill: "none", stroke: colour, "stroke-width": "2", class: `wb-curve-${key}` }));
    svg.append(node("text", { x: pad + 4, y: 14 + 13 * i, fill: colour, "font-size": "11" }, label));
  });
}

function render({ model, el: root }) {
  root.style.font = "13px var(--jp-ui-font-family, system-ui, sans-serif)";
  root.style.color = "var(--jp-ui-font-color1, #222)";
  const data = node("input", { value: model.get("data"), size: "40", class: "wb-data", placeholder: "dataset folder" });
  const epochs = node("input", { type: "number", min: "1", value: String(model.get("epochs")), class: "wb-epochs" });
  const run = node("button", { class: "wb-run" }, "Train");
  const cancel = node("button", { class: "wb-cancel" }, "Cancel");
  const bar = node("progress", { max: "1", value: "0" });
  const status = node("span", { class: "wb-status" });
  const error = node("div", { class: "wb-error", style: "color:var(--jp-error-color1, #b00020)" });
  const svg = node("svg", { width: "460", height: "220", class: "wb-curves", role: "img",
                            "aria-label": "training curves" });
  const summary = node("div", { class: "wb-summary" });
  const controls = node("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  controls.append("dataset:", data, "epochs:", epochs, run, cancel, bar, status);
  root.append(controls, error, svg, summary);

  function sync() {
    const state = model.get("state");
    bar.value = model.get("progress");
    status.textContent = `${state} ${model.get("message") === model.get("summary") ? "" : model.get("message")}`;
    error.textContent = model.get("error");
    summary.textContent = model.get("summary") + (model.get("model_folder") ? ` (model: ${model.get("model_folder")})` : "");
    run.disabled = state === "queued" || state === "running";
    cancel.disabled = !run.disabled;
    root.dataset.state = state;
    draw(svg, model.get("curves"));
  }
  run.onclick = () => {
    model.set("data", data.value);
    model.set("epochs", Number(epochs.value));
    model.save_changes();
    model.send({ type: "run" });
  };
  cancel.onclick = () => model.send({ type: "cancel" });
  for (const name of ["state", "progress", "message", "error", "summary", "curves", "model_folder"]) {
    model.on(`change:${name}`, sync);
  }
  sync();
}

export default { render };
