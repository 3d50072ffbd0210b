// PlaceWidget front end: scene picker, instruction box, the parsed goal (or why it is refused)
// before Run, the tabletop in 3D (three.js, bundled; drag to turn, wheel to zoom), the planned
// target as a ghost, the verdict per metric and the replay GIF. Colours follow JupyterLab's theme.
import { el, gifPlayer, handReplay, loadLibrary, showStatus, themed } from "./shared.js";

async function render({ model, el: root }) {
  model.send({ type: "ready" });  // the kernel builds the meshes now, not in the constructor
  const THREE = await loadLibrary(model, "three.module.min.js");
  root.style.font = "13px var(--jp-ui-font-family, system-ui, sans-serif)";
  root.style.color = "var(--jp-ui-font-color1, #222)";

  const sceneSelect = el("select", { class: "wb-scene" });
  for (const s of model.get("scenes")) sceneSelect.append(el("option", { value: s }, s));
  sceneSelect.value = model.get("scene");
  const device = el("select", { class: "wb-device" });
  for (const d of model.get("devices")) device.append(el("option", { value: d }, d));
  device.value = model.get("device");
  const instruction = el("input", { class: "wb-instruction", size: "52", value: model.get("instruction"),
                                      "aria-label": "instruction" });
  const run = el("button", { class: "wb-run" }, "Run");
  const cancel = el("button", { class: "wb-cancel" }, "Cancel");
  const bar = el("progress", { max: "1", value: "0" });
  const status = el("span", { class: "wb-status" });
  const controls = el("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  controls.append("scene:", sceneSelect, instruction, device, run, cancel, bar, status);
  const goal = el("div", { class: "wb-goal", style: "margin:4px 0" });
  const error = el("div", { class: "wb-error", style: "color:var(--jp-error-color1, #b00020)" });
  const verdict = el("div", { class: "wb-verdict", style: "margin:4px 0;font-weight:600" });
  const view = el("div", { class: "wb-view", style: "width:480px;height:340px;border:1px solid var(--jp-border-color2, #ddd)" });
  // shared.js: the task replayed, with playback controls; each frame also poses the 3D view
  const replay = gifPlayer("wb-replay", (i) => showMotion(i));
  const hint = el("div", { style: "opacity:0.7;font-size:11px" },
                   "x right, y away from you (behind), table 1.0 x 0.8 m; dashed: the planned target; drag to turn, wheel to zoom");
  const main = el("div", { style: "display:flex;gap:10px;align-items:flex-start;flex-wrap:wrap" });
  const left = el("div");
  left.append(view, hint);
  main.append(left, replay.element);
  root.append(controls, goal, error, verdict, main);

  const renderer = new THREE.WebGLRenderer({ antialias: true });
  renderer.setSize(480, 340);
  view.append(renderer.domElement);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(themed("--jp-layout-color1", "#f4f5f8"));
  scene.add(new THREE.HemisphereLight(0xffffff, 0x999999, 2.4));
  const sun = new THREE.DirectionalLight(0xffffff, 1.6);
  sun.position.set(0.3, -0.8, 1.2);
  scene.add(sun);
  const table = new THREE.Mesh(new THREE.PlaneGeometry(1.0, 0.8),
                               new THREE.MeshStandardMaterial({ color: 0xe8dcc8 }));
  const grid = new THREE.GridHelper(0.8, 8, 0x8a7f70, 0xb5a892);  // 10 cm squares
  grid.rotation.x = Math.PI / 2;
  grid.position.z = 0.0005;
  const objects = new THREE.Group();
  const ghost = new THREE.Group();
  const hand = new THREE.Group();  // the gripper's boxes and its contacts, while the replay plays
  scene.add(table, grid, objects, ghost, hand, new THREE.AxesHelper(0.1));
  const camera = new THREE.PerspectiveCamera(40, 480 / 340, 0.01, 20);
  let radius = 1.2, yaw = -Math.PI / 2, pitch = 0.95;  // from where the person stands, in front (-y)

  function draw() {
    camera.position.set(radius * Math.cos(pitch) * Math.cos(yaw), radius * Math.cos(pitch) * Math.sin(yaw),
                        radius * Math.sin(pitch));
    camera.up.set(0, 0, 1);
    camera.lookAt(0, 0, 0.04);
    renderer.render(scene, camera);
  }

  function meshOf(o, material) {
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.Float32BufferAttribute(o.vertices, 3));
    g.setIndex(o.faces);
    g.computeVertexNormals();
    const m = new THREE.Mesh(g, material);
    m.matrixAutoUpdate = false;
    return m;
  }

  function drawObjects() {
    objects.clear();
    for (const o of model.get("objects")) {
      const colour = new THREE.Color(o.colour[0], o.colour[1], o.colour[2]);
      const m = meshOf(o, new THREE.MeshStandardMaterial({ color: colour, flatShading: true }));
      m.matrix.set(...o.pose);
      m.name = o.name;
      objects.add(m);
    }
    drawGhost();
  }

  function drawGhost() {
    ghost.clear();
    const t = model.get("target");
    const o = model.get("objects").find((x) => x.name === t.name);
    if (!o) { draw(); return; }
    const edges = new THREE.LineSegments(new THREE.EdgesGeometry(meshOf(o).geometry, 30),
                                         new THREE.LineDashedMaterial({ color: themed("--jp-brand-color1", "#1976d2"),
                                                                        dashSize: 0.01, gapSize: 0.006 }));
    edges.computeLineDistances();
    edges.matrixAutoUpdate = false;
    edges.matrix.set(...t.pose);
    ghost.add(edges);
    draw();
  }

  let drag = null;
  renderer.domElement.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY }; });
  window.addEventListener("pointerup", () => { drag = null; });
  renderer.domElement.addEventListener("pointermove", (e) => {
    if (!drag) return;
    yaw -= (e.clientX - drag.x) * 0.01;
    pitch = Math.max(0.05, Math.min(1.5, pitch + (e.clientY - drag.y) * 0.01));
    drag = { x: e.clientX, y: e.clientY };
    draw();
  });
  renderer.domElement.addEventListener("wheel", (e) => {
    e.preventDefault();
    radius = Math.max(0.3, Math.min(4, radius * (e.deltaY > 0 ? 1.1 : 0.9)));
    draw();
  }, { passive: false });

  // ---- the interactive 3D replay: every object and the gripper as recorded behind the GIF's frames ----
  let motion = null;
  const gripper = handReplay(THREE, hand, 0.005);
  const result = el("button", { class: "wb-result-view", title: "back to the final scene" }, "final scene");
  result.style.display = "none";
  replay.element.append(result);
  result.onclick = () => { replay.stop(); showMotion(-1); };
  function loadMotion() {
    motion = model.get("replay_motion");
    if (!motion || !motion.frames || !motion.frames.length) { motion = null; hand.clear(); return; }
    gripper.load(motion);
  }
  function showMotion(i) {
    const on = motion !== null && i >= 0;
    hand.visible = on;
    result.style.display = on ? "" : "none";
    if (!on) { delete root.dataset.replayFrame; drawObjects(); return; }
    const frame = motion.frames[Math.min(i, motion.frames.length - 1)];
    for (const m of objects.children) if (frame.objects[m.name]) m.matrix.set(...frame.objects[m.name]);
    root.dataset.replayContacts = String(gripper.pose(frame));
    root.dataset.replayFrame = String(i);
    draw();
  }
  model.on("change:replay_motion", loadMotion);
  loadMotion();

  function syncGoal() {
    goal.replaceChildren();
    const refusal = model.get("refusal");
    if (refusal) {
      goal.append(el("span", { class: "wb-refusal", style: "color:var(--jp-error-color1, #b00020)" }, refusal));
    } else {
      goal.append(el("span", { style: "opacity:0.75" }, "goal: "));
      for (const line of model.get("constraints")) goal.append(el("div", { class: "wb-constraint" }, line));
    }
  }

  function syncStatus() {
    const stage = model.get("stage");
    const running = model.get("state") === "running";
    const state = showStatus(model, root, { bar, status, error, run, cancel }, model.get("message"));
    if (stage && running) status.textContent = `${state}: ${stage} ${model.get("message")}`;
    if (model.get("refusal")) run.disabled = true;
    const v = model.get("verdict");
    verdict.replaceChildren();
    if (v && v.track) {
      const mark = (ok) => (ok === null || ok === undefined ? "–" : ok ? "✓" : "✗");
      verdict.style.color = v.success ? "var(--jp-success-color1, #2e7d32)" : "var(--jp-error-color1, #b00020)";
      verdict.textContent = `${v.success ? "success" : "failed"} (${v.track} track): position ${mark(v.position)}, ` +
        `rotation ${mark(v.rotation)}` + (v.rotation !== null ? ` (${v.rotation_error.toFixed(1)}° off)` : "") +
        (v.cause ? ` — ${v.cause}: ${v.reason}` : "");
    }
    void replay.load(model.get("replay"), v && v.track ? `"${model.get("instruction")}": ${v.success ? "success" : "failed"}`
                                                         : "");
  }

  instruction.addEventListener("input", () => { model.set("instruction", instruction.value); model.save_changes(); });
  instruction.addEventListener("keydown", (e) => { if (e.key === "Enter" && !run.disabled) run.click(); });
  sceneSelect.onchange = () => { model.set("scene", sceneSelect.value); model.save_changes(); };
  device.onchange = () => { model.set("device", device.value); model.save_changes(); };
  run.onclick = () => model.send({ type: "run" });
  cancel.onclick = () => model.send({ type: "cancel" });
  model.on("change:objects", drawObjects);
  model.on("change:target", drawGhost);
  for (const name of ["constraints", "refusal"]) model.on(`change:${name}`, () => { syncGoal(); syncStatus(); });
  for (const name of ["state", "progress", "message", "error", "stage", "verdict", "replay"]) {
    model.on(`change:${name}`, syncStatus);
  }
  syncGoal();
  syncStatus();
  drawObjects();
  return () => renderer.dispose();
}

export default { render };
