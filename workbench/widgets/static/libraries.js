// Shared by every workbench widget (Python prepends it to each widget's module): a bundled
// library (three.js, 3Dmol.js) loads once per page, from the workbench server extension's static
// route; where that route is absent (VS Code, Colab) the kernel sends the file once. Never as
// widget state, so a saved notebook does not carry it.
function workbenchBaseUrl() {
  const data = document.getElementById("jupyter-config-data");
  if (data) {
    try { return JSON.parse(data.textContent).baseUrl || "/"; } catch (e) { /* not JupyterLab */ }
  }
  return null;
}

// a job's file through the server extension's REST route; null where there is no JupyterLab server
function workbenchFileUrl(job, relative) {
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

async function loadLibrary(model, name) {
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


// a DOM element with attributes and text: every widget builds its controls with it
function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}
