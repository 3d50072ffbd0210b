// MoleculeWidget front end: inputs, progress, a bundled 3Dmol.js viewer, downloads.
// It only shows state the kernel sends; "run" and "cancel" are messages to the kernel.
import { bounded, el, loadLibrary, showStatus } from "./shared.js";

async function load3Dmol(model) {
  return loadLibrary(model, "3Dmol.es6-min.js");
}

function plddtColour(b) {
  if (b >= 90) return "#0053d6";
  if (b >= 70) return "#65cbf3";
  if (b >= 50) return "#ffdb13";
  return "#ff7d45";
}

async function render({ model, el: root }) {
  root.classList.add("wb-mol");
  const mode = el("select", { class: "wb-mode" });
  for (const m of ["conformers", "fold", "complex", "screen"]) mode.append(el("option", { value: m }, m));
  const device = el("select", { class: "wb-device" });
  const num = bounded(model, el("input", { type: "number", class: "wb-num", title: "conformers" }), "num_conformers");
  const run = el("button", { class: "wb-run" }, "Run");
  const cancel = el("button", { class: "wb-cancel" }, "Cancel");
  const text = el("textarea", { class: "wb-text",
                                placeholder: "SMILES (one per line), a protein sequence, or a complex: one chain per line "
                                             + "(protein: SEQ, dna: SEQ, rna: SEQ, ligand: SMILES, ccd: ATP; "
                                             + "pocket: B: A:12, A:15 @ 6; affinity: B); a screen: the target's "
                                             + "protein lines and one ligand: SMILES name line per ligand" });
  const bar = el("progress", { max: "1", value: "0", class: "wb-progress" });
  const status = el("span", { class: "wb-status" });
  const error = el("div", { class: "wb-error" });
  const viewerBox = el("div", { class: "wb-viewer", style: "width:480px;height:360px;position:relative" });
  const side = el("div", { class: "wb-side" });
  const slider = el("input", { type: "range", min: "0", max: "0", value: "0", class: "wb-slider" });
  const downloads = el("div", { class: "wb-row wb-downloads" });
  const numLabel = el("label");
  numLabel.append("conformers: ", num);
  const controls = el("div", { class: "wb-row" });
  controls.append(mode, device, numLabel, run, cancel, bar, status);
  const picker = el("select", { class: "wb-picker", title: "jump to a molecule's lowest-energy conformer" });
  const position = el("span", { class: "wb-position" });
  const snapshot = el("button", { class: "wb-snapshot", title: "the current view as a PNG" }, "Save image");
  const sliderRow = el("div", { class: "wb-row" });
  sliderRow.append("molecule:", picker, "conformer:", slider, position);
  // how it is drawn: style, hydrogens, every conformer of the molecule overlaid (conformers); colour (fold)
  const style = el("select", { class: "wb-style", title: "drawing style" });
  for (const s of ["sticks", "ball-and-stick", "spheres", "surface"]) style.append(el("option", { value: s }, s));
  const hydrogens = el("input", { type: "checkbox", class: "wb-hydrogens", checked: "" });
  const overlay = el("input", { type: "checkbox", class: "wb-overlay" });
  const colourBy = el("select", { class: "wb-colour", title: "colour the protein by" });
  for (const c of ["pLDDT", "chain"]) colourBy.append(el("option", { value: c }, c));
  const looks = el("div", { class: "wb-row wb-looks" });
  const hLabel = el("label", { title: "show hydrogen atoms" });
  hLabel.append(hydrogens, "hydrogens");
  const oLabel = el("label", { title: "every conformer of this molecule, aligned on its lowest-energy one" });
  oLabel.append(overlay, "overlay conformers");
  const conformerLooks = el("span", { class: "wb-conformer-looks" });
  conformerLooks.append("style:", style, hLabel, oLabel);
  const foldLooks = el("span", { class: "wb-fold-looks" });
  foldLooks.append("colour by:", colourBy);
  looks.append(conformerLooks, foldLooks);
  const key = el("div", { class: "wb-row wb-key" });  // pLDDT colour key (fold)
  for (const [label, colour] of [["very high (>= 90)", "#0053d6"], ["confident (70-90)", "#65cbf3"],
                                 ["low (50-70)", "#ffdb13"], ["very low (< 50)", "#ff7d45"]]) {
    const item = el("span");
    item.append(el("span", { style: `display:inline-block;width:10px;height:10px;margin-right:3px;background:${colour}` }),
                label);
    key.append(item);
  }
  key.prepend("pLDDT:");
  const main = el("div", { class: "wb-main" });
  main.append(viewerBox, side);
  const viewRow = el("div", { class: "wb-row" });  // the downloads row is rebuilt per result; this one stays
  viewRow.append(snapshot);
  // PAE and pLDDT side by side under the structure, full size (ColabFold's layout), not in the side's scroll box
  const plots = el("div", { class: "wb-row wb-plots" });
  root.append(controls, text, error, sliderRow, looks, key, downloads, viewRow, main, plots);
  snapshot.onclick = () => {
    if (!viewer) return;
    const a = el("a", { href: viewer.pngURI(), download: `${model.get("mode")}.png` });
    a.click();
  };

  function showMode() {  // only the controls of the current mode
    const fold = model.get("mode") !== "conformers";  // fold and complex: one structure, no ensemble
    const cofold = model.get("mode") === "complex";
    numLabel.style.display = fold ? "none" : "";
    sliderRow.style.display = fold ? "none" : "";
    key.style.display = fold && models.length && colourBy.value === "pLDDT" ? "" : "none";
    conformerLooks.style.display = fold ? "none" : "";
    foldLooks.style.display = fold ? "" : "none";  // a complex too: Boltz writes pLDDT in the B-factors
    root.dataset.mode = model.get("mode");
  }

  let viewer = null;
  let models = [];
  let $3Dmol = null;

  function syncInputs() {
    mode.value = model.get("mode");
    device.replaceChildren(...model.get("devices").map((d) => el("option", { value: d }, d)));
    device.value = model.get("device");
    num.value = model.get("num_conformers");
    text.value = model.get("text");
    showMode();
  }

  // the ETA from the pace of the last 20 s, not since the start: a complex's stages go at different
  // speeds (it said "about 6 min left" with 23 s to go when the slow start set the rate)
  const WINDOW_S = 20;
  let samples = [];  // [seconds, fraction] while running

  function eta(fraction) {
    const now = performance.now() / 1000;
    samples.push([now, fraction]);
    samples = samples.filter(([t]) => now - t <= WINDOW_S);
    const [t0, f0] = samples[0];
    if (fraction < 0.05 || fraction >= 1 || now - t0 < 3 || fraction <= f0) return "";
    const left = (now - t0) * (1 - fraction) / (fraction - f0);
    root.dataset.eta = String(Math.round(left));
    return left < 1 ? "" : ` (about ${left < 90 ? Math.round(left) + " s" : Math.round(left / 60) + " min"} left)`;
  }

  function syncStatus() {
    if (model.get("state") !== "running") { samples = []; delete root.dataset.eta; }
    const fraction = model.get("progress");
    showStatus(model, root, { bar, status, error, run, cancel },
               `${Math.round(100 * fraction)}%${eta(fraction)} ${model.get("message")}`);
  }

  // columns: [key, header] pairs (a header carries the unit); a row with ok === false is marked failed
  function table(rows, columns, cls = "", onRow = null) {
    // a column empty in every row (affinity without --affinity) is left out: it pushed the others sideways
    if (rows.length) columns = columns.filter(([key]) => rows.some((r) => (r[key] ?? "") !== ""));
    const t = el("table", cls ? { class: cls } : {});
    const head = el("tr");
    for (const [, header] of columns) head.append(el("th", {}, header));
    t.append(head);
    rows.forEach((r, i) => {
      const tr = el("tr", { "data-index": String(i) });
      if (r.ok === false) tr.classList.add("wb-failed");
      if (onRow) {  // a click on a row shows that conformer
        tr.style.cursor = "pointer";
        tr.title = "show this conformer";
        tr.onclick = () => onRow(i);
      }
      for (const [key] of columns) tr.append(el("td", {}, String(r[key] ?? "")));
      t.append(tr);
    });
    return t;
  }

  function weight(w) {  // Boltzmann weights span orders of magnitude: three significant digits, not 0
    return w >= 0.001 ? w.toFixed(3) : w.toExponential(1);
  }

  const STYLES = {
    sticks: { stick: { radius: 0.15 } },
    "ball-and-stick": { stick: { radius: 0.12 }, sphere: { scale: 0.28 } },
    spheres: { sphere: { scale: 1.0 } },
    surface: { stick: { radius: 0.12 } },
  };
  let current = 0;

  // draw the current conformer (and, overlaid, the others of its molecule) in the chosen style
  function applyLooks() {
    if (!viewer || !models.length) return;
    viewer.removeAllSurfaces();
    viewer.removeAllLabels();
    if (model.get("structure_format") === "sdf") {
      const conformers = model.get("conformers");
      const name = conformers[current] ? conformers[current].name : null;
      let shown = 0;
      models.forEach((m, k) => {
        const visible = k === current || (overlay.checked && conformers[k] && conformers[k].name === name);
        if (!visible) { m.hide(); return; }
        m.show();
        shown += 1;
        m.setStyle({}, k === current ? STYLES[style.value] : { stick: { radius: 0.07, opacity: 0.45 } });
        if (!hydrogens.checked) m.setStyle({ elem: "H" }, {});
      });
      if (style.value === "surface") {
        viewer.addSurface($3Dmol.SurfaceType.VDW, { opacity: 0.7, colorscheme: "greenCarbon" },
                          { model: models[current], ...(hydrogens.checked ? {} : { not: { elem: "H" } }) });
      }
      root.dataset.shown = String(shown);
    } else {
      const m = models[0];
      const cofold = model.get("structure_format") === "cif";  // a complex: chains, and ligands as sticks
      m.setStyle({}, { cartoon: colourBy.value === "chain" ? { colorscheme: "chain" }
                                                          : { colorfunc: (atom) => plddtColour(atom.b) } });
      if (cofold) m.setStyle({ hetflag: true }, { stick: { radius: 0.2, colorscheme: "greenCarbon" } });
      // the residues a restraint names: sticks in magenta, with the restraint as a label on each
      for (const h of model.get("highlights") || []) {
        m.setStyle({ chain: h.chain, resi: h.resi }, { stick: { radius: 0.25, colorscheme: "magentaCarbon" } }, true);
        const ca = m.selectedAtoms({ chain: h.chain, resi: h.resi, atom: "CA" })[0];
        if (ca) viewer.addLabel(`${h.chain}:${h.resi}${h.satisfied ? "" : " (not met)"}`,
                                { position: { x: ca.x, y: ca.y, z: ca.z }, fontSize: 10, backgroundOpacity: 0.5 });
      }
      root.dataset.highlighted = String((model.get("highlights") || []).length);
      root.dataset.ligandAtoms = String(m.selectedAtoms({ hetflag: true }).length);
      const chains = [...new Set(m.selectedAtoms({ atom: "CA" }).map((a) => a.chain))];
      if (chains.length > 1) {  // chains told apart: a label on each, at its middle residue
        for (const chain of chains) {
          const atoms = m.selectedAtoms({ chain, atom: "CA" });
          const mid = atoms[Math.floor(atoms.length / 2)];
          viewer.addLabel(`chain ${chain}`, { position: { x: mid.x, y: mid.y, z: mid.z }, fontSize: 12,
                                              backgroundOpacity: 0.6 });
        }
      }
      root.dataset.chains = String(chains.length);
      key.style.display = colourBy.value === "pLDDT" ? "" : "none";
    }
    root.dataset.style = model.get("structure_format") === "sdf" ? style.value : colourBy.value;
    viewer.render();
  }

  function showConformer(i) {
    if (!viewer || !models.length) return;
    current = i;
    applyLooks();
    viewer.zoomTo();
    viewer.render();
    side.querySelectorAll("tr.wb-current").forEach((r) => r.classList.remove("wb-current"));
    const row = side.querySelector(`table.wb-conformers tr[data-index="${i}"]`);
    if (row) row.classList.add("wb-current");
    const c = model.get("conformers")[i];
    if (c) {
      position.textContent = `${c.name} #${c.rank}, ΔE ${c.energy} kcal/mol`;
      picker.value = c.name;
    }
  }

  async function syncStructure() {
    const data = model.get("structure");
    const fmt = model.get("structure_format");
    side.replaceChildren();
    plots.replaceChildren();
    downloads.replaceChildren();
    for (const [name, content] of Object.entries(model.get("downloads"))) {
      const b = el("button", { class: "wb-download" }, `Download ${name}`);
      b.onclick = () => {
        const a = el("a", { href: URL.createObjectURL(new Blob([content])), download: name });
        a.click();
      };
      downloads.append(b);
    }
    if (!data) return;
    $3Dmol = await load3Dmol(model);
    if (!viewer) {  // the canvas follows the theme (a white box in the dark theme before)
      const bg = getComputedStyle(root).getPropertyValue("--jp-layout-color0").trim() || "white";
      viewer = $3Dmol.createViewer(viewerBox, { backgroundColor: bg });
      // a narrow output (a 900 px window with the file browser open) shrinks the box: the canvas follows
      new ResizeObserver(() => { viewer.resize(); viewer.render(); }).observe(viewerBox);
    }
    viewer.clear();
    models = [];
    if (fmt === "sdf") {
      const records = data.split("$$$$\n").filter((r) => r.trim());
      for (const r of records) models.push(viewer.addModel(r + "$$$$\n", "sdf"));
      slider.max = String(Math.max(0, models.length - 1));
      slider.value = "0";
      const firsts = new Map();  // each molecule's lowest-energy conformer (rank 1)
      model.get("conformers").forEach((c, k) => { if (!firsts.has(c.name)) firsts.set(c.name, k); });
      picker.replaceChildren(...[...firsts.keys()].map((n) => el("option", { value: n }, n)));
      picker.onchange = () => { slider.value = String(firsts.get(picker.value)); showConformer(firsts.get(picker.value)); };
      // every molecule with its outcome: a failed one shows its reason (it was hidden before)
      const outcomes = model.get("summary").map((m) => ({ ...m, status: m.ok ? "ok" : m.error }));
      side.append(table(outcomes, [["name", "molecule"], ["status", "status"], ["conformers", "conformers"]],
                        "wb-outcomes"));
      const rows = model.get("conformers").map((c) => ({ ...c, weight: weight(c.weight) }));
      side.append(table(rows, [["name", "molecule"], ["rank", "rank"], ["energy", "ΔE (kcal/mol)"],
                               ["weight", "Boltzmann weight"]], "wb-conformers",
                        (i) => { slider.value = String(i); showConformer(i); }));
      showConformer(0);
    } else if (fmt === "cif") {  // a co-folded complex: its best sample, the samples ranked
      models.push(viewer.addModel(data, "cif"));
      applyLooks();
      const screened = model.get("mode") === "screen" || "ligand_iptm" in (model.get("summary")[0] || {});
      side.append(screened
        ? table(model.get("summary"), [["rank", "rank"], ["name", "ligand"], ["line", "line"],
                                       ["ligand_iptm", "ligand ipTM"], ["confidence", "confidence"],
                                       ["binder", "binder probability"], ["restraints", "restraints met"]],
                "wb-screen")
        : table(model.get("summary"), [["rank", "rank"], ["seed", "seed"], ["sample", "sample"],
                                       ["confidence", "confidence"], ["iptm", "ipTM"],
                                       ["plddt", "pLDDT (0-100)"], ["posebusters", "ligands passing"],
                                       ["restraints", "restraints met"], ["affinity", "log10 IC50 (µM)"],
                                       ["binder", "binder probability"]],
                "wb-samples"));
      if (model.get("pae_png")) plots.append(el("img", { class: "wb-pae", src: model.get("pae_png"), alt: "PAE" }));
      viewer.zoomTo();
      viewer.render();
    } else {
      models.push(viewer.addModel(data, "pdb"));
      applyLooks();
      side.append(table(model.get("summary"), [["name", "protein"], ["chains", "chains"], ["length", "residues"],
                                               ["mean_plddt", "mean pLDDT (0-100)"], ["ptm", "pTM (0-1)"]]));
      if (model.get("plddt_png")) plots.append(el("img", { class: "wb-plddt", src: model.get("plddt_png"),
                                                           alt: "pLDDT per residue" }));
      if (model.get("pae_png")) plots.append(el("img", { class: "wb-pae", src: model.get("pae_png"), alt: "PAE" }));
      viewer.zoomTo();
      viewer.render();
    }
    root.dataset.models = String(models.length);
    showMode();
  }

  mode.onchange = () => { model.set("mode", mode.value); model.save_changes(); };
  device.onchange = () => { model.set("device", device.value); model.save_changes(); };
  num.onchange = () => { model.set("num_conformers", parseInt(num.value, 10) || 1); model.save_changes(); };
  text.onchange = () => { model.set("text", text.value); model.save_changes(); };
  run.onclick = () => {
    model.set("text", text.value);
    model.save_changes();
    model.send({ type: "run" });
  };
  cancel.onclick = () => model.send({ type: "cancel" });
  slider.oninput = () => showConformer(parseInt(slider.value, 10));
  for (const control of [style, hydrogens, overlay, colourBy]) control.onchange = applyLooks;

  for (const name of ["mode", "devices", "device", "num_conformers", "text"]) model.on(`change:${name}`, syncInputs);
  for (const name of ["state", "progress", "message", "error"]) model.on(`change:${name}`, syncStatus);
  model.on("change:structure", syncStructure);
  syncInputs();
  syncStatus();
  await syncStructure();
}

export default { render };
