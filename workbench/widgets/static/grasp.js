// GraspWidget front end: a three.js view of the object with one glyph per finished grasp.
// It shows what the kernel sends; run, cancel and a click on a grasp are messages/traits.
import { bounded, el, gifPlayer, handReplay, loadLibrary, showStatus, themed, workbenchBaseUrl, workbenchFileUrl } from "./shared.js";

async function loadThree(model) {
  return loadLibrary(model, "three.module.min.js");
}

function select(options, value) {
  const s = el("select");
  for (const o of options) s.append(el("option", { value: o }, o));
  s.value = value;
  return s;
}

//: one colour per outcome: success, and each stage a trial can fail at (shown in the legend)
const STAGE_COLOURS = { success: 0x1a9e3a, collision: 0x7f7f7f, lift: 0xd0342c, shake: 0xe08a00, refused: 0x5b3fa8 };

//: an outcome in words: "refused" is a grasp never tried (wider than the gripper opens), not a stage it failed at
function outcomeWords(stage) {
  return stage === "success" ? "held" : stage === "refused" ? "refused (wider than the gripper)" : `failed at ${stage}`;
}

function legend() {
  const box = el("div", { class: "wb-legend", style: "display:flex;gap:10px;flex-wrap:wrap" });
  for (const [name, colour] of Object.entries(STAGE_COLOURS)) {
    const swatch = el("span", { style: `display:inline-block;width:10px;height:10px;margin-right:3px;` +
                                       `background:#${colour.toString(16).padStart(6, "0")}` });
    const item = el("span", {}, outcomeWords(name));
    item.prepend(swatch);
    box.append(item);
  }
  box.append(el("span", { style: "opacity:0.7" }, "click a grasp to replay it; drag to turn, wheel to zoom"));
  return box;
}

async function render({ model, el: root }) {
  model.send({ type: "ready" });  // the kernel loads the object's mesh now, not in the constructor
  const THREE = await loadThree(model);
  root.style.font = "13px var(--jp-ui-font-family, system-ui, sans-serif)";
  root.style.maxWidth = "100%";
  const objectIn = el("input", { list: "wb-objects", value: model.get("object"), size: "22", class: "wb-object" });
  const list = el("datalist", { id: "wb-objects" });
  for (const o of model.get("objects")) list.append(el("option", { value: o }));
  const gripper = select(model.get("grippers"), model.get("gripper"));
  const device = select(model.get("devices"), model.get("device"));
  const num = bounded(model, el("input", { type: "number", value: String(model.get("num_grasps")), class: "wb-num" }),
                      "num_grasps");
  const run = el("button", { class: "wb-run" }, "Run");
  const cancel = el("button", { class: "wb-cancel" }, "Cancel");
  const bar = el("progress", { max: "1", value: "0", class: "wb-progress" });
  const status = el("span", { class: "wb-status" });
  const error = el("div", { class: "wb-error", style: "color:var(--jp-error-color1, #b00020)" });
  const summary = el("div", { class: "wb-summary" });
  const canvasBox = el("div", { class: "wb-view",
                                style: "width:480px;max-width:100%;height:360px;overflow:hidden;" +
                                       "border:1px solid var(--jp-border-color2, #ddd)" });
  // shared.js: the replay with playback controls and a caption; each frame also poses the 3D view
  const player = gifPlayer("wb-trial", (i) => showMotion(i));
  const controls = el("div", { style: "display:flex;gap:6px;align-items:center;flex-wrap:wrap" });
  controls.append(objectIn, list, gripper, device, "grasps:", num, run, cancel, bar, status);
  // wraps: in a 900 px window the table and the replay go below the view instead of past the output's edge
  const main = el("div", { style: "display:flex;gap:10px;align-items:flex-start;flex-wrap:wrap;max-width:100%" });
  main.append(canvasBox, player.element);
  root.append(controls, error, summary, legend(), main);

  const renderer = new THREE.WebGLRenderer({ antialias: true });
  renderer.setSize(480, 360);
  canvasBox.append(renderer.domElement);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(themed("--jp-layout-color1", "#f4f5f8"));  // follows the theme
  const camera = new THREE.PerspectiveCamera(45, 480 / 360, 0.01, 10);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x888888, 2.0));
  const objectGroup = new THREE.Group();
  const graspGroup = new THREE.Group();
  const replayGroup = new THREE.Group();  // the gripper's boxes and the contacts of the trial being replayed
  scene.add(objectGroup, graspGroup, replayGroup);
  const grid = new THREE.GridHelper(0.4, 8, 0x999999, 0xcccccc);  // 5 cm squares, under the object
  grid.rotation.x = Math.PI / 2;
  scene.add(grid, new THREE.AxesHelper(0.05));  // x red, y green, z blue; 5 cm long
  let radius = 0.3, yaw = 0.8, pitch = 0.5;

  // a narrow output shrinks the view's box: the canvas and the camera follow it
  new ResizeObserver(() => {
    const w = Math.max(120, Math.min(480, canvasBox.clientWidth));
    if (Math.abs(w - renderer.domElement.width / renderer.getPixelRatio()) < 1) return;
    renderer.setSize(w, 360);
    camera.aspect = w / 360;
    camera.updateProjectionMatrix();
    place();
  }).observe(canvasBox);

  function place() {
    camera.position.set(radius * Math.cos(pitch) * Math.cos(yaw), radius * Math.cos(pitch) * Math.sin(yaw),
                        radius * Math.sin(pitch));
    camera.up.set(0, 0, 1);
    camera.lookAt(0, 0, 0);
    camera.updateMatrixWorld();
    renderer.render(scene, camera);
    publishTargets();
  }

  let drag = null;
  renderer.domElement.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; });
  renderer.domElement.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
    yaw -= dx * 0.01; pitch = Math.max(-1.5, Math.min(1.5, pitch + dy * 0.01));
    drag.x = e.clientX; drag.y = e.clientY;
    place();
  });
  renderer.domElement.addEventListener("pointerup", (e) => {
    const clicked = drag && !drag.moved;
    drag = null;
    if (!clicked) return;
    const rect = renderer.domElement.getBoundingClientRect();
    const p = new THREE.Vector2(((e.clientX - rect.left) / rect.width) * 2 - 1, -((e.clientY - rect.top) / rect.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(p, camera);
    const hit = ray.intersectObjects(pickTargets(), false)[0];
    if (hit) { model.set("selected", hit.object.userData.index); model.save_changes(); }
  });
  renderer.domElement.addEventListener("mousemove", (e) => {  // a pointer over a grasp says it is clickable
    if (drag) return;
    const rect = renderer.domElement.getBoundingClientRect();
    const p = new THREE.Vector2(((e.clientX - rect.left) / rect.width) * 2 - 1, -((e.clientY - rect.top) / rect.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(p, camera);
    renderer.domElement.style.cursor = ray.intersectObjects(pickTargets(), false).length ? "pointer" : "grab";
  });

  // the click targets are the spheres inside each grasp's group (the flag is on the sphere, not the group)
  function pickTargets() {
    return graspGroup.children.flatMap((g) => g.children.filter((c) => c.userData.pick));
  }

  function publishTargets() {  // where each grasp's target is on screen, for tests and assistive tools
    const rect = { w: renderer.domElement.clientWidth || 480, h: renderer.domElement.clientHeight || 360 };
    const v = new THREE.Vector3();
    const spots = pickTargets().map((t) => {
      t.getWorldPosition(v);
      v.project(camera);
      return { index: t.userData.index, x: Math.round((v.x + 1) / 2 * rect.w), y: Math.round((1 - v.y) / 2 * rect.h) };
    });
    renderer.domElement.dataset.targets = JSON.stringify(spots);
  }
  renderer.domElement.addEventListener("wheel", (e) => { e.preventDefault(); radius *= e.deltaY > 0 ? 1.1 : 0.9; place(); });

  function drawMesh() {
    objectGroup.clear();
    const m = model.get("mesh");
    if (!m.vertices) return place();
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.Float32BufferAttribute(m.vertices, 3));
    g.setIndex(m.faces);
    g.computeVertexNormals();
    objectGroup.add(new THREE.Mesh(g, new THREE.MeshStandardMaterial({ color: 0xc89a4d, flatShading: true })));
    g.computeBoundingSphere();
    radius = Math.max(0.15, g.boundingSphere.radius * 5);
    g.computeBoundingBox();
    grid.position.z = g.boundingBox.min.z;  // the grid under the object, for scale
    place();
  }

  function drawGrasps() {
    graspGroup.clear();
    const grasps = model.get("grasps");
    for (const g of grasps) {
      const colour = STAGE_COLOURS[g.success ? "success" : g.stage] ?? 0xd0342c;
      const mat = new THREE.LineBasicMaterial({ color: colour });
      // ACRONYM's Franka marker: fingers at x = +-0.041 m from z = 0.066 m to the tips at 0.112 m
      const pts = [[-0.041, 0.112], [-0.041, 0.066], [0.041, 0.066], [0.041, 0.112]].map(([x, z]) => new THREE.Vector3(x, 0, z));
      const glyph = new THREE.Line(new THREE.BufferGeometry().setFromPoints(pts), mat);
      const stem = new THREE.Line(new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(0, 0, 0.066), new THREE.Vector3(0, 0, 0)]), mat);
      const pick = new THREE.Mesh(new THREE.SphereGeometry(0.01), new THREE.MeshBasicMaterial({ color: colour }));
      pick.position.set(0, 0, 0.089);
      pick.userData = { pick: true, index: g.index };
      const group = new THREE.Group();
      group.add(glyph, stem, pick);
      const p = g.pose;  // row-major 4x4
      group.matrixAutoUpdate = false;
      group.matrix.set(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
      graspGroup.add(group);
      group.updateMatrixWorld(true);
    }
    root.dataset.grasps = String(grasps.length);
    place();
  }

  function syncStatus() {
    const message = model.get("message") === model.get("summary") ? "" : model.get("message");  // said below
    showStatus(model, root, { bar, status, error, run, cancel }, `${Math.round(100 * model.get("progress"))}% ${message}`);
    summary.textContent = model.get("summary");
  }

  objectIn.onchange = () => { model.set("object", objectIn.value); model.save_changes(); };
  gripper.onchange = () => { model.set("gripper", gripper.value); model.save_changes(); };
  device.onchange = () => { model.set("device", device.value); model.save_changes(); };
  num.onchange = () => { model.set("num_grasps", parseInt(num.value, 10) || 1); model.save_changes(); };
  run.onclick = () => { model.set("object", objectIn.value); model.save_changes(); model.send({ type: "run" }); };
  cancel.onclick = () => model.send({ type: "cancel" });
  // the trials as a table: sortable by any column; a click on a row replays that trial, like a click in 3D
  const tableBox = el("div", { class: "wb-trials", style: "max-height:220px;max-width:100%;overflow:auto;margin-top:6px" });
  const links = el("div", { class: "wb-files", style: "display:flex;gap:10px" });
  root.append(links, tableBox);
  let sortKey = "index", sortUp = true;
  function drawTable() {
    const rows = [...model.get("grasps")].sort((a, b) => {
      const x = a[sortKey] ?? "", y = b[sortKey] ?? "";
      return (x > y ? 1 : x < y ? -1 : 0) * (sortUp ? 1 : -1);
    });
    const table = el("table", { style: "border-collapse:collapse;font-size:12px" });
    const head = el("tr");
    for (const [key, label] of [["index", "trial"], ["success", "outcome"], ["stage", "failed at"],
                                ["slip_mm", "slip (mm)"]]) {
      const th = el("th", { style: "cursor:pointer;padding:0 8px;text-align:left" }, label + (sortKey === key ? (sortUp ? " ▲" : " ▼") : ""));
      th.onclick = () => { sortUp = sortKey === key ? !sortUp : true; sortKey = key; drawTable(); };
      head.append(th);
    }
    table.append(head);
    for (const g of rows) {
      const tr = el("tr", { "data-trial": String(g.index), style: "cursor:pointer" });
      if (g.index === model.get("selected")) tr.style.outline = "2px solid var(--jp-brand-color1, #1976d2)";
      const colour = `#${(STAGE_COLOURS[g.success ? "success" : g.stage] ?? 0xd0342c).toString(16).padStart(6, "0")}`;
      for (const text of [String(g.index), g.success ? "held" : "failed", g.stage || "", g.slip_mm == null ? "" :
                          Number(g.slip_mm).toFixed(1)]) {
        tr.append(el("td", { style: `padding:0 8px;color:${colour}` }, text));
      }
      tr.onclick = () => { model.set("selected", g.index); model.save_changes(); };
      table.append(tr);
    }
    tableBox.replaceChildren(table);
  }
  function drawLinks() {
    // shared.js: downloads go through the server extension (none without one)
    links.replaceChildren(...(workbenchBaseUrl() === null ? [] : Object.entries(model.get("files")).map(([name, rel]) =>
      el("a", { href: workbenchFileUrl(model.get("job_id"), rel), download: name, class: "wb-file" },
         `Download ${name}`))));
  }
  model.on("change:grasps", drawTable);
  model.on("change:selected", drawTable);
  model.on("change:files", drawLinks);
  drawTable();
  drawLinks();
  model.on("change:mesh", drawMesh);
  model.on("change:grasps", drawGrasps);
  // ---- the interactive 3D replay: the recorded poses behind the GIF's frames, contacts in red ----
  let motion = null;
  const hand = handReplay(THREE, replayGroup, 0.003);
  const allGrasps = el("button", { class: "wb-grasps-view", title: "back to every grasp on the object" },
                       "all grasps");
  allGrasps.style.display = "none";
  controls.append(allGrasps);
  allGrasps.onclick = () => { player.stop(); showMotion(-1); };
  function loadMotion() {
    motion = model.get("trial_motion");
    if (!motion || !motion.frames || !motion.frames.length) { motion = null; replayGroup.clear(); showMotion(-1); return; }
    hand.load(motion);
  }
  function showMotion(i) {
    const on = motion !== null && i >= 0;
    objectGroup.matrixAutoUpdate = false;
    replayGroup.visible = on;
    graspGroup.visible = !on;
    allGrasps.style.display = on ? "" : "none";
    if (!on) {
      objectGroup.matrix.identity();
      delete root.dataset.replayFrame;
      return place();
    }
    const frame = motion.frames[Math.min(i, motion.frames.length - 1)];
    objectGroup.matrix.set(...frame.object);
    root.dataset.replayContacts = String(hand.pose(frame));
    root.dataset.replayFrame = String(i);
    place();
  }
  model.on("change:trial_motion", loadMotion);
  loadMotion();

  function syncReplay() {
    const g = model.get("grasps").find((x) => x.index === model.get("selected"));
    const outcome = g ? (g.success ? "held through lift and shake" : outcomeWords(g.stage)) : "";
    void player.load(model.get("trial_image"), g ? `trial ${g.index}: ${outcome} (replayed in MuJoCo)` : "");
  }
  model.on("change:trial_image", syncReplay);
  model.on("change:selected", () => {  // the kernel renders the replay (a few seconds): say so at once
    const i = model.get("selected");
    showMotion(-1);  // the grasps again until the new trial's motion arrives
    if (i >= 0) player.say(`trial ${i}: replaying in MuJoCo…`);
  });
  for (const n of ["state", "progress", "message", "error", "summary"]) model.on(`change:${n}`, syncStatus);
  drawMesh();
  drawGrasps();
  syncStatus();
  return () => renderer.dispose();
}

export default { render };
