// What every workbench widget shares, as an ES module the widgets import (`import { el } from
// "./shared.js"`): the job status line, DOM helpers, the GIF player, the gripper replay, theme colours,
// and the library loader. A bundled library (three.js, 3Dmol.js) loads once per page, from the
// workbench server extension's static route; where that route is absent (VS Code, Colab) the kernel
// sends the file once. Never as widget state, so a saved notebook does not carry it.
//
// anywidget runs a widget's module from a blob URL, where "./shared.js" has no folder to resolve
// against; Python (`widgets.base.widget_module`) points that one import at this file's text as a
// data: URL. Every widget names the same URL, so the page holds one instance of this module.
export function workbenchBaseUrl() {
  const data = document.getElementById("jupyter-config-data");
  if (data) {
    try { return JSON.parse(data.textContent).baseUrl || "/"; } catch (e) { /* not JupyterLab */ }
  }
  return null;
}

// a job's file through the server extension's REST route; null where there is no JupyterLab server
export function workbenchFileUrl(job, relative) {
  const base = workbenchBaseUrl();
  return base === null ? null : `${base.replace(/\/?$/, "/")}workbench/api/jobs/${job}/files/${relative}`;
}

function libraryFromKernel(model, name) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (!msg || msg.type !== "library" || msg.name !== name) return;
      model.off("msg:custom", onMessage);
      if (msg.source) resolve(msg.source); else reject(new Error(msg.error || `no library ${name}`));
    };
    model.on("msg:custom", onMessage);
    model.send({ type: "library", name });
  });
}

export async function loadLibrary(model, name) {
  const libraries = (globalThis.__workbenchLibraries ??= {});
  libraries[name] ??= (async () => {
    const base = workbenchBaseUrl();
    if (base !== null) {
      try {
        return await import(`${base.replace(/\/?$/, "/")}workbench/static/${name}`);
      } catch (e) { /* no workbench server extension here: ask the kernel */ }
    }
    const source = await libraryFromKernel(model, name);
    return import(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
  })();
  return libraries[name];
}


// a DOM element with attributes and text: every widget builds its controls with it (SVG elements, for
// charts, in the SVG namespace)
const SVG_TAGS = new Set(["svg", "path", "line", "polyline", "circle", "rect", "text", "g"]);
export function el(tag, attrs = {}, text = "") {
  const e = SVG_TAGS.has(tag) ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

// A GIF with playback controls (play/pause, step, a frame slider, a caption): frames decoded with the
// browser's ImageDecoder where it has one (Chromium), else the plain animated <img>.
// onFrame(k): a 3D view kept on the same moment, k counting the frames as recorded (a GIF writer merges
// identical neighbours into one longer frame, so the GIF's own index would drift from the recording)
export function gifPlayer(cls = "wb-player", onFrame = null) {
  const box = el("figure", { class: cls, style: "margin:0;display:none" });
  const canvas = el("canvas", { class: "wb-player-canvas", style: "max-width:400px;display:block" });
  const img = el("img", { class: "wb-player-img", style: "max-width:400px;display:none", alt: "replay" });
  const play = el("button", { class: "wb-play", title: "play / pause" }, "❚❚");
  const back = el("button", { class: "wb-step-back", title: "previous frame" }, "◀");
  const next = el("button", { class: "wb-step", title: "next frame" }, "▶");
  const slider = el("input", { type: "range", min: "0", max: "0", value: "0", class: "wb-frame" });
  const counter = el("small", { class: "wb-frame-count" });
  const controls = el("div", { style: "display:flex;gap:4px;align-items:center" });
  controls.append(back, play, next, slider, counter);
  const caption = el("figcaption", { class: "wb-caption", style: "font-size:12px;margin:2px 0" });
  box.append(caption, canvas, img, controls);
  let frames = [], delays = [], starts = [], index = 0, timer = null, source = "";  // delays in ms

  function show(i) {
    if (!frames.length) return;
    index = (i + frames.length) % frames.length;
    canvas.width = frames[index].width;
    canvas.height = frames[index].height;
    canvas.getContext("2d").drawImage(frames[index], 0, 0);
    slider.value = String(index);
    counter.textContent = `frame ${index + 1} of ${frames.length}`;
    box.dataset.frame = String(index);
    box.dataset.recorded = String(starts[index] ?? index);
    if (onFrame) onFrame(starts[index] ?? index);
  }
  function stop() { if (timer) clearTimeout(timer); timer = null; play.textContent = "▶︎"; box.dataset.playing = "false"; }
  function start() {
    stop();
    play.textContent = "❚❚";
    box.dataset.playing = "true";
    const tick = () => { show(index + 1); timer = setTimeout(tick, delays[index] || 80); };
    timer = setTimeout(tick, delays[index] || 80);
  }
  play.onclick = () => (timer ? stop() : start());
  back.onclick = () => { stop(); show(index - 1); };
  next.onclick = () => { stop(); show(index + 1); };
  slider.oninput = () => { stop(); show(parseInt(slider.value, 10)); };

  async function load(uri, text) {
    caption.textContent = text || "";
    delete box.dataset.pending;
    if (!uri) { stop(); box.style.display = "none"; return; }
    box.style.display = "";
    if (uri === source) return;
    source = uri;
    stop();
    frames = [];
    delays = [];
    if (typeof ImageDecoder === "undefined") {  // no decoder: the animated image, without controls
      img.src = uri; img.style.display = ""; canvas.style.display = "none"; controls.style.display = "none";
      return;
    }
    const bytes = await (await fetch(uri)).arrayBuffer();
    const decoder = new ImageDecoder({ data: bytes, type: "image/gif" });
    await decoder.tracks.ready;
    const count = decoder.tracks.selectedTrack.frameCount;
    for (let i = 0; i < count; i++) {
      const { image } = await decoder.decode({ frameIndex: i });
      delays.push(image.duration ? image.duration / 1000 : 80);
      frames.push(await createImageBitmap(image));
      image.close();
    }
    const base = Math.min(...delays);  // one recorded frame's time; a merged frame lasts a whole multiple of it
    starts = delays.map((_, i) => delays.slice(0, i).reduce((a, d) => a + Math.max(1, Math.round(d / base)), 0));
    slider.max = String(Math.max(0, frames.length - 1));
    box.dataset.frames = String(frames.length);
    show(0);
    start();
  }
  // a caption at once (the replay is being rendered), before the frames arrive
  function say(text) { caption.textContent = text; box.style.display = ""; box.dataset.pending = "true"; }
  return { element: box, load, say, stop };
}

// a recorded replay's gripper (its collision boxes, see-through) and contacts (red dots) in `group`, for
// the grasp and pick-and-place widgets: load(motion) once, pose(frame) for each frame shown
export function handReplay(THREE, group, dotRadius) {
  let boxes = [], dots = [];
  return {
    load(motion) {
      group.clear();
      dots = [];
      const material = new THREE.MeshStandardMaterial({ color: 0x8a8f99, transparent: true, opacity: 0.55 });
      boxes = motion.boxes.map((b) => {
        const mesh = new THREE.Mesh(new THREE.BoxGeometry(...b.size), material);
        mesh.matrixAutoUpdate = false;
        group.add(mesh);
        return mesh;
      });
    },
    pose(frame) {
      frame.boxes.forEach((p, k) => { boxes[k].matrix.set(...p); });
      while (dots.length < frame.contacts.length) {
        const dot = new THREE.Mesh(new THREE.SphereGeometry(dotRadius), new THREE.MeshBasicMaterial({ color: 0xe53935 }));
        group.add(dot);
        dots.push(dot);
      }
      dots.forEach((dot, k) => {
        dot.visible = k < frame.contacts.length;
        if (dot.visible) dot.position.set(...frame.contacts[k]);
      });
      return frame.contacts.length;
    },
  };
}

// a JupyterLab theme variable's value now (for canvases, which CSS variables do not reach)
export function themed(name, fallback) {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

// A number input bounded by the request's declared limits, which the kernel sends in `bounds` (the
// same numbers as `--help` and the OpenAPI schema), with the field's help as its tooltip.
export function bounded(model, input, field) {
  const b = (model.get("bounds") || {})[field] || {};
  if (b.minimum !== undefined) input.min = String(b.minimum);
  if (b.maximum !== undefined) input.max = String(b.maximum);
  if (b.info) input.title = b.info;
  return input;
}

// The status every job widget shows: the bar, "<state> <detail>", the error, Run and Cancel enabled as
// the job allows, and the state on the root element (tests and styles read it). `detail` defaults to
// "<percent>% <message>"; a widget passes its own (a stage, an ETA). Returns the state.
export function showStatus(model, root, { bar, status, error, run, cancel }, detail = null) {
  const state = model.get("state");
  const busy = state === "queued" || state === "running";
  bar.value = model.get("progress");
  status.textContent = `${state} ${detail ?? `${Math.round(100 * model.get("progress"))}% ${model.get("message")}`}`;
  error.textContent = model.get("error");
  // a result's headline is several lines (a line per molecule, per ligand): keep them apart
  status.style.whiteSpace = error.style.whiteSpace = "pre-line";
  run.disabled = busy;
  cancel.disabled = !busy;
  root.dataset.state = state;
  return state;
}
