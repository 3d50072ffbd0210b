// GenerationWidget front end: inputs, progress with a live preview, the answer, and a gallery
// of past images (recipe on hover, download on click). It only shows what the kernel sends.

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

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
  const steps = el("input", { type: "number", min: "1", class: "wb-steps", style: "width:4em" });
  const size = el("input", { type: "number", min: "64", step: "8", class: "wb-size", style: "width:5em" });
  const seed = el("input", { type: "number", class: "wb-seed", style: "width:5em" });
  const run = el("button", { class: "wb-run" }, "Run");
  const cancel = el("button", { class: "wb-cancel" }, "Cancel");
  const bar = el("progress", { max: "1", value: "0", class: "wb-progress" });
  const status = el("span", { class: "wb-status" });
  const error = el("div", { class: "wb-error", style: "color:#b00020" });
  const preview = el("img", { class: "wb-preview", style: "max-width:320px;image-rendering:pixelated" });
  const answer = el("div", { class: "wb-answer", style: "white-space:pre-wrap;max-width:480px" });
  const gallery = el("div", { class: "wb-gallery", style: "display:flex;flex-wrap:wrap;gap:6px;margin-top:8px" });
  const row1 = el("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  row1.append(mode, device, "model:", modelIn, "steps:", steps, "size:", size, "seed:", seed, run, cancel, bar, status);
  const row2 = el("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  row2.append(prompt, upload, question);
  const out = el("div", { style: "display:flex;gap:12px;align-items:flex-start;margin-top:6px" });
  out.append(preview, answer);
  root.append(row1, row2, error, out, el("div", {}, "Gallery (this store, newest first):"), gallery);

  function sync() {
    mode.value = model.get("mode");
    device.replaceChildren(...model.get("devices").map((d) => el("option", { value: d }, d)));
    device.value = model.get("device");
    prompt.value = model.get("prompt");
    question.value = model.get("question");
    modelIn.value = model.get("model");
    steps.value = model.get("steps");
    size.value = model.get("width");
    seed.value = model.get("seed");
  }
  function status_() {
    const state = model.get("state");
    bar.value = model.get("progress");
    status.textContent = `${state} ${Math.round(100 * model.get("progress"))}% ${model.get("message")}`;
    error.textContent = model.get("error");
    run.disabled = state === "queued" || state === "running";
    cancel.disabled = !run.disabled;
    root.dataset.state = state;
  }
  function drawGallery() {
    gallery.replaceChildren(...model.get("gallery").map((g) => {
      const base = workbenchBaseUrl();  // libraries.js; the PNG (with its recipe) from the store
      const href = base === null ? g.src : `${base.replace(/\/?$/, "/")}workbench/api/jobs/${g.job}/files/${g.file}`;
      const a = el("a", { href, download: `${g.job}-${g.name}`, class: "wb-gallery-item" });
      const img = el("img", { src: g.src, title: JSON.stringify(g.recipe, null, 1), style: "width:96px;height:96px;object-fit:cover" });
      a.append(img);
      return a;
    }));
    root.dataset.gallery = String(model.get("gallery").length);
  }
  const set = (k, v) => { model.set(k, v); model.save_changes(); };
  mode.onchange = () => set("mode", mode.value);
  device.onchange = () => set("device", device.value);
  prompt.onchange = () => set("prompt", prompt.value);
  question.onchange = () => set("question", question.value);
  modelIn.onchange = () => set("model", modelIn.value);
  steps.onchange = () => set("steps", parseInt(steps.value, 10) || 1);
  size.onchange = () => { const s = parseInt(size.value, 10) || 512; model.set("width", s); model.set("height", s); model.save_changes(); };
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
  for (const k of ["mode", "devices", "device", "prompt", "question", "model", "steps", "width", "seed"]) model.on(`change:${k}`, sync);
  for (const k of ["state", "progress", "message", "error"]) model.on(`change:${k}`, status_);
  model.on("change:preview", () => { preview.src = model.get("preview"); });
  model.on("change:answer", () => { answer.textContent = model.get("answer"); });
  model.on("change:gallery", drawGallery);
  sync(); status_(); drawGallery();
  if (model.get("preview")) preview.src = model.get("preview");
}

export default { render };
