// GenerationWidget front end: inputs, progress with a live preview, the answer, and a gallery
// of past images (recipe on hover, download on click). It only shows what the kernel sends.
import { bounded, el, showStatus, workbenchFileUrl } from "./shared.js";

function render({ model, el: root }) {
  model.send({ type: "ready" });  // the kernel fills the gallery from the store now
  root.style.font = "13px var(--jp-ui-font-family, system-ui, sans-serif)";
  const mode = el("select", { class: "wb-mode" });
  for (const m of ["text-to-image", "caption", "vqa"]) mode.append(el("option", { value: m }, m));
  const device = el("select", { class: "wb-device" });
  const prompt = el("textarea", { class: "wb-prompt", rows: "2", cols: "60", placeholder: "prompt" });
  const question = el("input", { class: "wb-question", size: "50", placeholder: "question (vqa)" });
  const upload = el("input", { type: "file", accept: "image/*", class: "wb-upload" });
  const modelIn = el("input", { class: "wb-model", size: "18" });
  const negative = el("textarea", { class: "wb-negative", rows: "1", cols: "40", placeholder: "negative prompt" });
  const steps = bounded(model, el("input", { type: "number", class: "wb-steps", style: "width:4em" }), "steps");
  const guidance = bounded(model, el("input", { type: "number", step: "0.5", class: "wb-guidance", style: "width:4em" }),
                           "guidance");
  const width = el("input", { type: "number", min: "32", step: "8", class: "wb-width", style: "width:5em",
                              placeholder: "auto" });
  const height = el("input", { type: "number", min: "32", step: "8", class: "wb-height", style: "width:5em",
                               placeholder: "auto" });
  const seed = el("input", { type: "number", class: "wb-seed", style: "width:5em" });
  const tiny = el("input", { type: "checkbox", class: "wb-tiny" });
  const tinyLabel = el("label", { title: "a randomly initialised model of the same architecture: no weights needed" });
  tinyLabel.append(tiny, " tiny test model");
  const uploaded = el("img", { class: "wb-uploaded", alt: "the uploaded image", style: "max-width:160px;display:none" });
  const download = el("a", { class: "wb-download", style: "display:none" }, "Download PNG");
  const recipe = el("dl", { class: "wb-recipe",
                            style: "display:none;margin:0;font-size:12px;grid-template-columns:auto 1fr;gap:0 8px" });
  const copy = el("button", { class: "wb-copy", style: "display:none" }, "Copy recipe");
  const run = el("button", { class: "wb-run" }, "Run");
  const cancel = el("button", { class: "wb-cancel" }, "Cancel");
  const bar = el("progress", { max: "1", value: "0", class: "wb-progress" });
  const status = el("span", { class: "wb-status" });
  const error = el("div", { class: "wb-error", style: "color:var(--jp-error-color1, #b00020)" });
  const preview = el("img", { class: "wb-preview", style: "max-width:320px;image-rendering:pixelated" });
  const answer = el("div", { class: "wb-answer", style: "white-space:pre-wrap;max-width:480px" });
  const gallery = el("div", { class: "wb-gallery", style: "display:flex;flex-wrap:wrap;gap:6px;margin-top:8px" });
  // controls of one mode each: [element, modes it belongs to]
  const labelled = (text, input) => { const l = el("label"); l.append(text, " ", input); return l; };
  const controls = [
    [labelled("steps", steps), ["text-to-image"]], [labelled("guidance", guidance), ["text-to-image"]],
    [labelled("width", width), ["text-to-image"]], [labelled("height", height), ["text-to-image"]],
    [labelled("seed", seed), ["text-to-image"]], [prompt, ["text-to-image"]], [negative, ["text-to-image"]],
    [upload, ["caption", "vqa"]], [uploaded, ["caption", "vqa"]], [question, ["vqa"]],
  ];
  const row1 = el("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  row1.append(mode, device, labelled("model", modelIn), tinyLabel, ...controls.slice(0, 5).map(([c]) => c), run,
              cancel, bar, status);
  const row2 = el("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  row2.append(...controls.slice(5).map(([c]) => c));
  const side = el("div", { style: "display:grid;gap:4px;justify-items:start" });
  side.append(download, copy, recipe);
  const out = el("div", { style: "display:flex;gap:12px;align-items:flex-start;margin-top:6px" });
  out.append(preview, answer, side);
  root.append(row1, row2, error, out, el("div", {}, "Gallery (this store, newest first):"), gallery);

  function showMode() {
    const m = model.get("mode");
    for (const [control, modes] of controls) {
      control.style.display = modes.includes(m) && !(control === uploaded && !model.get("upload")) ? "" : "none";
    }
    root.dataset.mode = m;
  }

  function sync() {
    mode.value = model.get("mode");
    device.replaceChildren(...model.get("devices").map((d) => el("option", { value: d }, d)));
    device.value = model.get("device");
    prompt.value = model.get("prompt");
    question.value = model.get("question");
    modelIn.value = model.get("model");
    negative.value = model.get("negative_prompt");
    steps.value = model.get("steps");
    guidance.value = model.get("guidance");
    width.value = model.get("width") || "";
    height.value = model.get("height") || "";
    seed.value = model.get("seed");
    tiny.checked = model.get("tiny");
    uploaded.src = model.get("upload");
    showMode();
  }
  function showNewest() {  // the newest image of this store: a download link and its recipe, readable
    const newest = model.get("gallery")[0];
    const shown = newest && model.get("mode") === "text-to-image";
    for (const e of [download, copy]) e.style.display = shown ? "" : "none";
    recipe.style.display = shown ? "grid" : "none";
    if (!newest) return;
    download.href = galleryHref(newest);
    download.download = `${newest.job}-${newest.name}`;
    const r = newest.recipe;
    // the model that drew (not "auto") with its hash, and the image's own seed (seed + its place in the batch)
    const rows = [["prompt", r.prompt], ["negative_prompt", r.negative_prompt], ["model", r.resolved_model ?? r.model],
                  ["model hash", r.model_hash], ["seed", r.image_seed ?? r.seed], ["steps", r.steps],
                  ["guidance", r.guidance], ["width", r.width], ["height", r.height], ["scheduler", r.scheduler],
                  ["device", r.device], ["dtype", r.dtype]];
    recipe.replaceChildren(...rows.filter(([, v]) => v !== undefined && v !== null && v !== "")
      .flatMap(([k, v]) => [el("dt", { style: "font-weight:bold" }, k), el("dd", { style: "margin:0" }, String(v))]));
    copy.onclick = () => navigator.clipboard?.writeText(JSON.stringify(newest.recipe, null, 1));
  }
  function galleryHref(g) {
    return workbenchFileUrl(g.job, g.file) ?? g.src;  // shared.js; the PNG (with its recipe) from the store
  }
  function status_() {
    showStatus(model, root, { bar, status, error, run, cancel });
  }
  function drawGallery() {
    gallery.replaceChildren(...model.get("gallery").map((g) => {
      const a = el("a", { href: galleryHref(g), download: `${g.job}-${g.name}`, class: "wb-gallery-item" });
      const img = el("img", { src: g.src, title: JSON.stringify(g.recipe, null, 1), style: "width:96px;height:96px;object-fit:cover" });
      a.append(img);
      return a;
    }));
    root.dataset.gallery = String(model.get("gallery").length);
    showNewest();
  }
  const set = (k, v) => { model.set(k, v); model.save_changes(); };
  mode.onchange = () => set("mode", mode.value);
  device.onchange = () => set("device", device.value);
  prompt.onchange = () => set("prompt", prompt.value);
  question.onchange = () => set("question", question.value);
  modelIn.onchange = () => set("model", modelIn.value);
  negative.onchange = () => set("negative_prompt", negative.value);
  steps.onchange = () => set("steps", parseInt(steps.value, 10) || 1);
  guidance.onchange = () => set("guidance", parseFloat(guidance.value) || 0);
  width.onchange = () => set("width", parseInt(width.value, 10) || 0);
  height.onchange = () => set("height", parseInt(height.value, 10) || 0);
  tiny.onchange = () => set("tiny", tiny.checked);
  seed.onchange = () => set("seed", parseInt(seed.value, 10) || 0);
  upload.onchange = () => {
    const file = upload.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => set("upload", reader.result);
    reader.readAsDataURL(file);
  };
  run.onclick = () => { model.set("prompt", prompt.value); model.set("question", question.value); model.save_changes(); model.send({ type: "run" }); };
  cancel.onclick = () => model.send({ type: "cancel" });
  for (const k of ["mode", "devices", "device", "prompt", "negative_prompt", "question", "model", "steps", "guidance",
                   "width", "height", "seed", "tiny", "upload"]) model.on(`change:${k}`, sync);
  model.on("change:mode", showNewest);
  for (const k of ["state", "progress", "message", "error"]) model.on(`change:${k}`, status_);
  model.on("change:preview", () => { preview.src = model.get("preview"); });
  model.on("change:answer", () => { answer.textContent = model.get("answer"); });
  model.on("change:gallery", drawGallery);
  sync(); status_(); drawGallery();
  if (model.get("preview")) preview.src = model.get("preview");
  // a view drawn again (the output is rewritten when the job ends) shows the answer it already has
  answer.textContent = model.get("answer");
}

export default { render };
