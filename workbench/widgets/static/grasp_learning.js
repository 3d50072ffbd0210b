// GraspTrainingWidget front end: a dataset box, Run / Cancel, and the training curves as SVG,
// redrawn whenever the kernel appends an epoch. Colours come from JupyterLab's theme variables.
import { bounded, el, showStatus } from "./shared.js";

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
    svg.append(el("text", { x: pad, y: h / 2, fill: "var(--jp-ui-font-color2, #777)" }, "no epochs yet"));
    return;
  }
  const last = curves[curves.length - 1].epoch;
  const maxLoss = Math.max(1e-6, ...curves.flatMap((c) => [c.train_loss, c.val_loss]));
  const x = (e) => pad + ((w - 2 * pad) * (e - 1)) / Math.max(1, last - 1);
  const y = (v, kind) => h - pad - (h - 2 * pad) * (kind === "loss" ? v / maxLoss : v);
  svg.append(el("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, stroke: "var(--jp-border-color1, #999)" }));
  svg.append(el("text", { x: w / 2, y: h - 8, "text-anchor": "middle", fill: "var(--jp-ui-font-color1, #222)",
                            "font-size": "11" }, `epoch (1-${last}); loss scaled to ${maxLoss.toFixed(2)}, rates 0-1`));
  SERIES.forEach(([key, label, colour, kind], i) => {
    const d = curves.map((c, j) => `${j ? "L" : "M"}${x(c.epoch).toFixed(1)},${y(c[key], kind).toFixed(1)}`).join(" ");
    svg.append(el("path", { d, fill: "none", stroke: colour, "stroke-width": "2", class: `wb-curve-${key}` }));
    svg.append(el("text", { x: pad + 4, y: 14 + 13 * i, fill: colour, "font-size": "11" }, label));
  });
}

function render({ model, el: root }) {
  root.style.font = "13px var(--jp-ui-font-family, system-ui, sans-serif)";
  root.style.color = "var(--jp-ui-font-color1, #222)";
  const data = el("input", { value: model.get("data"), size: "40", class: "wb-data", placeholder: "dataset folder" });
  const epochs = bounded(model, el("input", { type: "number", value: String(model.get("epochs")), class: "wb-epochs" }),
                         "epochs");
  const run = el("button", { class: "wb-run" }, "Train");
  const cancel = el("button", { class: "wb-cancel" }, "Cancel");
  const bar = el("progress", { max: "1", value: "0" });
  const status = el("span", { class: "wb-status" });
  const error = el("div", { class: "wb-error", style: "color:var(--jp-error-color1, #b00020)" });
  const svg = el("svg", { width: "460", height: "220", class: "wb-curves", role: "img",
                            "aria-label": "training curves" });
  const summary = el("div", { class: "wb-summary" });
  const controls = el("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  controls.append("dataset:", data, "epochs:", epochs, run, cancel, bar, status);
  root.append(controls, error, svg, summary);

  function sync() {
    showStatus(model, root, { bar, status, error, run, cancel },
               model.get("message") === model.get("summary") ? "" : model.get("message"));
    summary.textContent = model.get("summary") + (model.get("model_folder") ? ` (model: ${model.get("model_folder")})` : "");
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
