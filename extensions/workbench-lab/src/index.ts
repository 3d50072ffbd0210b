// Devices & Jobs sidebar and launcher items. The front end holds no business logic: it shows
// what /workbench/api/ returns and asks the server to cancel; everything else is in Python.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { CodeCell } from '@jupyterlab/cells';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

interface IUsage { memory_used: number; memory_total: number; utilisation: number | null; source: string; }
interface IDevice { id: string; kind: string; name: string; total_memory: number; load: number; drained: boolean;
  profile: { matmul_tflops_fp32: number; memory_gbps: number } | null; usage: IUsage; holders?: IHolder[]; }
// who holds or waits for this device's slots, machine-wide (every home sharing the slot pool): a teacher's view
interface IHolder { owner: string; state: string; task: string; since: number; home: string; }
interface IJob { id: string; task: string; device: string; state: string; reason: string; progress: number | null;
  message: string; created: number; started: number | null; finished: number | null; placement: string; }

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'workbench/api', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const data = await response.json();
  if (!response.ok) { throw new Error(data.reason || response.statusText); }
  return data as T;
}

function gib(bytes: number): string { return bytes ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : '-'; }

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) { node.className = cls; }
  if (text) { node.textContent = text; }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
const HISTORY = 60;  // samples kept per device: a minute at the default refresh

function svgEl(tag: string, attrs: { [k: string]: string | number }, text = ''): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) { node.setAttribute(k, String(v)); }
  if (text) { node.textContent = text; }
  return node;
}

interface ISample { t: number; v: number; }

/** A device's recent use as a chart a person can read: a y scale (percent, or running jobs where the
 * device reports no utilisation), a time axis ending at "now", and a tooltip on every sample. */
function historyChart(samples: ISample[], width: number, span: number, percent: boolean): SVGSVGElement {
  const h = 46, left = 28, right = 4, top = 4, bottom = 12;
  const plotW = Math.max(40, width - left - right), plotH = h - top - bottom;
  const peak = percent ? 100 : Math.max(1, ...samples.map(s => s.v));
  const now = Date.now() / 1000;
  const x = (t: number) => left + plotW * Math.max(0, 1 - (now - t) / span);
  const y = (v: number) => top + plotH * (1 - Math.min(v, peak) / peak);
  const svg = svgEl('svg', { width: left + plotW + right, height: h, class: 'wb-chart', role: 'img',
    'aria-label': percent ? 'utilisation over the last minute' : 'running jobs over the last minute' }) as SVGSVGElement;
  const unit = percent ? '%' : (peak === 1 ? ' job' : ' jobs');
  svg.append(
    svgEl('line', { x1: left, x2: left + plotW, y1: y(peak), y2: y(peak), class: 'wb-grid' }),
    svgEl('line', { x1: left, x2: left + plotW, y1: y(0), y2: y(0), class: 'wb-axis' }),
    svgEl('text', { x: left - 3, y: y(peak) + 4, 'text-anchor': 'end', class: 'wb-label' }, `${peak}${percent ? '%' : ''}`),
    svgEl('text', { x: left - 3, y: y(0) + 1, 'text-anchor': 'end', class: 'wb-label' }, '0'),
    svgEl('text', { x: left, y: h - 1, class: 'wb-label' }, `-${Math.round(span)} s`),
    svgEl('text', { x: left + plotW, y: h - 1, 'text-anchor': 'end', class: 'wb-label' }, 'now'));
  if (samples.length) {
    svg.append(svgEl('path', { class: 'wb-trace', d: samples.map((s, i) =>
      `${i ? 'L' : 'M'}${x(s.t).toFixed(1)},${y(s.v).toFixed(1)}`).join(' ') }));
    const step = plotW / HISTORY;
    for (const s of samples) {  // a hover target per sample: its value and its age
      const hit = svgEl('rect', { x: (x(s.t) - step / 2).toFixed(1), y: top, width: step.toFixed(1), height: plotH,
        class: 'wb-hit' });
      hit.append(svgEl('title', {}, `${Math.round(now - s.t)} s ago: ${Math.round(s.v)}${unit}`));
      svg.append(hit);
    }
  }
  return svg;
}

const FILTERS: { [name: string]: (j: IJob) => boolean } = {
  all: () => true,
  active: j => j.state === 'queued' || j.state === 'running',
  failed: j => j.state === 'failed' || j.state === 'cancelled',
  succeeded: j => j.state === 'succeeded'
};

function duration(job: IJob): string {
  if (!job.started || (!job.finished && job.state !== 'running')) { return ''; }  // a dead process's job: no end
  const s = (job.finished ?? Date.now() / 1000) - job.started;  // from the first start: a moved job keeps it
  return s < 90 ? `${s.toFixed(1)} s` : s < 5400 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** The job's page, in JupyterLab's theme (not the OS's). */
function pageUrl(id: string): string {
  const theme = document.body.dataset.jpThemeLight === 'false' ? 'dark' : 'light';
  return URLExt.join(ServerConnection.makeSettings().baseUrl, 'workbench/jobs', id) + `?theme=${theme}`;
}

/** The status bar's readout: jobs running and queued, and the busiest device now; a click opens the panel. */
class StatusReadout extends Widget {
  constructor(open: () => void) {
    super();
    this.addClass('wb-status');
    this.node.title = 'workbench: open Devices & Jobs';
    this.node.onclick = open;
  }
  readout(jobs: IJob[], devices: IDevice[]): void {
    const running = jobs.filter(j => j.state === 'running').length;
    const queued = jobs.filter(j => j.state === 'queued').length;
    const busiest = devices.filter(d => d.usage && d.usage.utilisation !== null)
      .sort((a, b) => (b.usage.utilisation ?? 0) - (a.usage.utilisation ?? 0))[0];
    this.node.textContent = `workbench: ${running} running, ${queued} queued`
      + (busiest ? ` · ${busiest.id} ${Math.round(busiest.usage.utilisation ?? 0)}%` : '');
    this.node.dataset.running = String(running);
    this.node.dataset.queued = String(queued);
  }
}

class DevicesAndJobs extends Widget {
  private timer = 0;
  private devices = el('div', 'wb-devices');
  private jobs = el('div', 'wb-jobs');
  private error = el('div', 'wb-error');
  private empty = el('div', 'wb-empty');
  private stateFilter = el('select', 'wb-filter-state');
  private taskFilter = el('input', 'wb-filter-task');
  private history = new Map<string, ISample[]>();
  private lastJobs: IJob[] = [];
  private interval = 2;  // seconds between refreshes (setting: refreshInterval)
  private limit = 50;  // jobs fetched (setting: jobsShown)
  status: StatusReadout | null = null;

  constructor() {
    super();
    this.id = 'workbench-devices-jobs';
    this.title.label = 'Devices & Jobs';
    this.title.caption = 'workbench: devices and jobs';
    this.title.closable = true;
    this.addClass('wb-sidebar');
    // the panel is 250 px wide by default: rows of blocks, not wide tables (details in each tooltip)
    for (const name of Object.keys(FILTERS)) {
      const option = el('option', '', name);
      option.value = name;
      this.stateFilter.append(option);
    }
    this.stateFilter.title = 'Show jobs in these states';
    this.taskFilter.placeholder = 'task or device';
    this.taskFilter.size = 10;
    this.stateFilter.onchange = () => this.drawJobs();
    this.taskFilter.oninput = () => this.drawJobs();
    const filters = el('div', 'wb-filters');
    filters.append(this.stateFilter, this.taskFilter);
    this.node.append(this.error, el('h3', '', 'Devices'), this.devices, el('h3', '', 'Jobs'), filters, this.jobs,
      this.empty);
  }

  /** Apply the settings (refresh interval, jobs shown) and (re)start the refresh: it runs while the
   * panel is closed too, for the status bar. */
  configure(interval: number, limit: number): void {
    this.interval = Math.max(0.5, interval);
    this.limit = Math.max(1, Math.min(1000, Math.round(limit)));
    this.node.dataset.refresh = String(this.interval);
    this.start();
  }

  start(): void {
    window.clearInterval(this.timer);
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), this.interval * 1000);
  }

  protected onAfterShow(): void { void this.refresh(); }  // drawn at once when opened
  dispose(): void { window.clearInterval(this.timer); super.dispose(); }

  async refresh(): Promise<void> {
    try {
      const [{ devices }, { jobs }] = await Promise.all([api<{ devices: IDevice[] }>('devices'),
        api<{ jobs: IJob[] }>(`jobs?limit=${this.limit}`)]);
      this.error.textContent = '';
      const now = Date.now() / 1000;
      for (const d of devices) {
        const u = d.usage;
        const sample = u && u.utilisation !== null ? u.utilisation : d.load;
        this.history.set(d.id, [...(this.history.get(d.id) ?? []), { t: now, v: sample }].slice(-HISTORY));
      }
      this.lastJobs = jobs;
      this.status?.readout(jobs, devices);
      if (!this.isVisible) { return; }  // closed: only the status bar is kept current
      this.devices.replaceChildren(...devices.map(d => this.deviceBlock(d)));
      this.drawJobs();
    } catch (err) {
      this.error.textContent = `workbench API: ${(err as Error).message}`;
    }
  }

  /** After a cancel: look again every 0.3 s (not at the refresh interval) until the job has ended, for
   * 5 s at most, so the row says "cancelled" as soon as the kernel that owns it has withdrawn it. */
  private async settle(id: string): Promise<void> {
    for (let i = 0; i < 17; i++) {
      await this.refresh();
      const job = this.lastJobs.find(j => j.id === id);
      if (!job || (job.state !== 'queued' && job.state !== 'running')) { return; }
      await new Promise(resolve => window.setTimeout(resolve, 300));
    }
  }

  private deviceBlock(d: IDevice): HTMLElement {
    const block = el('div', 'wb-device');
    block.dataset.device = d.id;
    block.dataset.drained = String(d.drained);
    // drain: every kernel moves its jobs off this device; they resume elsewhere from their checkpoints
    const drain = el('button', 'wb-drain', d.drained ? 'Undrain' : 'Drain');
    drain.title = d.drained ? 'Let this device take work again'
      : 'Move queued and running jobs off this device (they resume elsewhere) and give it no new work';
    drain.onclick = async () => {
      await api(`devices/${encodeURIComponent(d.id)}/${d.drained ? 'undrain' : 'drain'}`, { method: 'POST' })
        .catch(() => undefined);
      void this.refresh();
    };
    const name = el('span', 'wb-device-id', d.id);
    name.title = `${d.name} (${d.kind}): ${gib(d.total_memory)}` + (d.drained ? ' (drained: it takes no new work)' : '');
    const head = el('div', 'wb-line');
    head.append(name, el('small', 'wb-device-load', `${d.load} job${d.load === 1 ? '' : 's'}`), drain);
    const u = d.usage;
    const percent = !!u && u.utilisation !== null;
    const chart = historyChart(this.history.get(d.id) ?? [], Math.max(150, this.node.clientWidth - 20),
      (HISTORY - 1) * this.interval, percent);
    block.append(head, chart, this.useLine(d));
    if (d.holders && d.holders.length) { block.append(this.whoLine(d.holders)); }
    return block;
  }

  // who runs and who waits here, across every home on the pool: "running ann, bob · 3 waiting (cy, dan)"
  private whoLine(holders: IHolder[]): HTMLElement {
    const names = (state: string): string[] => [...new Set(holders.filter(h => h.state === state).map(h => h.owner))];
    const running = names('running');
    const waiting = holders.filter(h => h.state === 'waiting');
    const parts = [running.length ? `running ${running.join(', ')}` : '',
      waiting.length ? `${waiting.length} waiting (${names('waiting').join(', ')})` : ''].filter(Boolean);
    const line = el('small', 'wb-who', parts.join(' · '));
    const now = Date.now() / 1000;
    line.title = holders.map(h => `${h.owner}: ${h.task} ${h.state} for ${Math.round(now - h.since)} s (${h.home})`)
      .join('\n');
    return line;
  }

  // utilisation and memory in use now
  private useLine(d: IDevice): HTMLElement {
    const u = d.usage;
    const line = el('small', 'wb-use');
    const percent = u && u.utilisation !== null ? `${Math.round(u.utilisation)}% busy · ` : '';
    line.textContent = u && u.memory_total ? `${percent}${gib(u.memory_used).replace(' GiB', '')}/${gib(u.memory_total)}`
      : percent.replace(' · ', '') || '-';
    line.title = u ? (u.utilisation !== null ? `utilisation ${u.utilisation.toFixed(0)}% now; ` : 'running jobs over time; ')
      + `memory in use ${gib(u.memory_used)} of ${gib(u.memory_total)}`
      + (u.source === 'published' ? ' (as published when discovered)' : ` (${u.source})`) : '';
    line.dataset.memoryUsed = String(u ? u.memory_used : 0);
    return line;
  }

  private drawJobs(): void {
    const keep = FILTERS[this.stateFilter.value] ?? FILTERS.all;
    const words = this.taskFilter.value.trim().toLowerCase();
    const shown = this.lastJobs.filter(j => keep(j) && (!words || `${j.task} ${j.device} ${j.id}`.toLowerCase()
      .includes(words)));
    this.jobs.replaceChildren(...shown.map(j => this.jobBlock(j)));
    this.empty.textContent = this.lastJobs.length
      ? (shown.length ? '' : `No ${this.stateFilter.value === 'all' ? '' : this.stateFilter.value + ' '}jobs match.`)
      : 'No jobs yet: run a widget, or `workbench run ...` in a terminal.';
  }

  private jobBlock(j: IJob): HTMLElement {
    const block = el('div', 'wb-job');
    block.dataset.job = j.id;
    block.dataset.state = j.state;
    // every job links to its page (failed and cancelled ones too: their reason and request are there)
    const link = el('a', 'wb-job-link', j.task);
    link.href = pageUrl(j.id);
    link.target = '_blank';
    link.title = `open the job's page (${j.id})`;
    const head = el('div', 'wb-line');
    head.append(link, el('small', 'wb-job-id', j.id.slice(-6)));
    if (j.state === 'queued' || j.state === 'running') {
      const b = el('button', 'wb-cancel', 'Cancel');
      b.onclick = async () => {
        b.disabled = true;
        await api(`jobs/${j.id}/cancel`, { method: 'POST' }).catch(() => undefined);
        void this.settle(j.id);
      };
      head.append(b);
    } else if (j.state === 'succeeded') {
      const a = el('a', 'wb-result', 'result');
      a.href = pageUrl(j.id);
      a.target = '_blank';
      head.append(a);
    }
    const bar = el('progress', `wb-bar wb-bar-${j.state}`);
    bar.max = 1;
    bar.value = j.state === 'succeeded' ? 1 : (j.progress ?? 0);  // a failed job shows how far it got, in red
    const state = el('span', `wb-state wb-state-${j.state}`, j.state);
    state.title = j.reason || j.message;
    const device = el('span', 'wb-job-device', j.device);
    device.title = j.placement || '';  // "placed on X: about 12 s, vs Y about 40 s with 2 queued"
    const meta = el('div', 'wb-line wb-meta');
    meta.append(state, bar, device, el('span', 'wb-job-time', duration(j)));
    block.append(head, meta);
    const moved = (j.placement || '').split(/(?:^|; )moved /).slice(1);
    if (moved.length) {  // after a drain or a lost device: where it went and why, not only in a tooltip
      const note = el('div', 'wb-moved', `moved ${moved[moved.length - 1]}`);
      note.title = moved.map(m => `moved ${m}`).join('\n');
      block.append(note);
    }
    const why = j.state === 'failed' || j.state === 'cancelled' ? j.reason : (j.state === 'running' ? j.message : '');
    if (why) {
      const line = el('div', 'wb-why', why);
      line.title = why;
      block.append(line);
    }
    return block;
  }
}

/** A saved notebook reopened: a workbench widget whose live model is gone (the kernel is new, or there is
 * none) shows the snapshot its output carries (`text/html`, written by the kernel when the job ended)
 * instead of "Error displaying widget: model not found". Run the cell again for the live view. */
function showSnapshots(panel: NotebookPanel, rendermime: IRenderMimeRegistry): void {
  const fix = (): void => {
    const noKernel = !panel.sessionContext.session?.kernel;
    for (const cell of panel.content.widgets) {
      if (cell.model.type !== 'code') { continue; }
      const area = (cell as CodeCell).outputArea;
      area.widgets.forEach((child, i) => {
        const view = child.node.querySelector('.jp-OutputArea-output');
        const text = view?.textContent ?? '';
        const lost = text.includes('model not found') || (noKernel && text.trim() === 'Loading widget...');
        if (!view || !lost || child.node.dataset.wbSnapshot || i >= area.model.length) { return; }
        const output = area.model.get(i);
        const html = output.data['text/html'];
        if (typeof html !== 'string' || !html.includes('wb-snapshot')) { return; }
        child.node.dataset.wbSnapshot = 'true';
        // rendered as any HTML output of this notebook is (sanitized unless trusted), in a marked box
        const renderer = rendermime.createRenderer('text/html');
        const box = document.createElement('div');
        box.className = 'wb-snapshot-restored jp-OutputArea-output';
        box.dataset.state = /data-state=["'](\w+)["']/.exec(html)?.[1] ?? '';
        void renderer.renderModel(new MimeModel({ data: { 'text/html': html }, trusted: output.trusted }))
          .then(() => { box.append(renderer.node); view.replaceWith(box); });
      });
    }
  };
  let pending = 0;
  const soon = (): void => { window.clearTimeout(pending); pending = window.setTimeout(fix, 300); };
  const observer = new MutationObserver(soon);
  observer.observe(panel.content.node, { subtree: true, childList: true, characterData: true });
  panel.sessionContext.kernelChanged.connect(soon);
  panel.disposed.connect(() => { observer.disconnect(); window.clearTimeout(pending); });
}

// launcher icons drawn in the theme's icon colour (jp-icon3 follows light and dark themes)
const svg = (body: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">${body}</g></svg>`;
const ICONS: { [name: string]: string } = {
  molecules: svg('<circle cx="6" cy="7" r="2.6"/><circle cx="18" cy="7" r="2.6"/><circle cx="12" cy="18" r="2.6"/>' +
    '<rect x="6" y="6.2" width="12" height="1.6"/><polygon points="6.8,8.2 8.2,7.4 12.8,17 11.4,17.8"/>' +
    '<polygon points="17.2,8.2 15.8,7.4 11.2,17 12.6,17.8"/>'),
  grasping: svg('<rect x="4" y="3" width="16" height="4" rx="1"/><rect x="5" y="7" width="3" height="11" rx="1"/>' +
    '<rect x="16" y="7" width="3" height="11" rx="1"/><rect x="9.5" y="11" width="5" height="9" rx="1"/>'),
  multimodal: svg('<rect x="3" y="4" width="18" height="14" rx="2" fill-opacity="0.35"/>' +
    '<polygon points="5,16 10,9 14,14 16,12 19,16"/><circle cx="16.5" cy="8" r="1.8"/>'),
  place: svg('<rect x="2" y="18" width="20" height="2.5" rx="1"/><rect x="4" y="11" width="5" height="7" rx="0.8"/>' +
    '<rect x="15" y="13" width="5" height="5" rx="0.8" fill-opacity="0.45"/>' +
    '<polygon points="11,8 15,8 15,6 19,10 15,14 15,12 11,12"/>')
};

const CAPABILITIES: { name: string; label: string; code: string }[] = [
  { name: 'molecules', label: 'Molecules',
    code: 'from workbench.widgets import MoleculeWidget\nMoleculeWidget("CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O ibuprofen")' },
  { name: 'grasping', label: 'Grasping', code: 'from workbench.widgets import GraspWidget\nGraspWidget("can")' },
  { name: 'multimodal', label: 'Multimodal',
    code: 'from workbench.widgets import GenerationWidget\nGenerationWidget("a watercolour of a red cube")' },
  { name: 'place', label: 'Pick and place',
    code: 'from workbench.widgets import PlaceWidget\nPlaceWidget("put the mug upright to the left of the box")' }
];

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'workbench-lab:plugin',
  description: 'Devices & Jobs sidebar and launcher items for workbench',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ILayoutRestorer, ISettingRegistry, IStatusBar, INotebookTracker,
    IRenderMimeRegistry],
  activate: (app: JupyterFrontEnd, launcher: ILauncher | null, palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null, settings: ISettingRegistry | null, statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null, rendermime: IRenderMimeRegistry | null) => {
    if (notebooks && rendermime) {
      notebooks.widgetAdded.connect((_, nb) => showSnapshots(nb, rendermime));
    }
    const panel = new DevicesAndJobs();
    if (statusBar) {
      panel.status = new StatusReadout(() => app.shell.activateById(panel.id));
      statusBar.registerStatusItem('workbench-lab:status', { item: panel.status, align: 'left', rank: 5 });
    }
    panel.start();
    if (settings) {
      const apply = (s: ISettingRegistry.ISettings) =>
        panel.configure(s.get('refreshInterval').composite as number, s.get('jobsShown').composite as number);
      void settings.load(plugin.id).then(s => { apply(s); s.changed.connect(apply); }).catch(() => undefined);
    }
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) { restorer.add(panel, 'workbench-devices-jobs'); }
    for (const cap of CAPABILITIES) {
      const command = `workbench:new-${cap.name}`;
      const icon = new LabIcon({ name: `workbench:${cap.name}`, svgstr: ICONS[cap.name] });
      app.commands.addCommand(command, {
        label: `workbench: ${cap.label}`,
        caption: `A new notebook with a ${cap.label} widget, run on the default Python kernel`,
        icon,
        execute: async () => {
          const model = await app.commands.execute('docmanager:new-untitled', { type: 'notebook' });
          // the default kernel, named: no kernel-selection dialog in front of the new notebook
          const nb: any = await app.commands.execute('docmanager:open',
            { path: model.path, factory: 'Notebook', kernel: { name: 'python3' } });
          await nb.context.ready;
          nb.content.model.sharedModel.insertCell(0, { cell_type: 'code', source: cap.code });
          nb.content.model.sharedModel.deleteCell(1);
          await nb.sessionContext.ready;
          nb.content.activeCellIndex = 0;
          await app.commands.execute('notebook:run-cell');  // the widget appears without a second click
          return nb;
        }
      });
      if (launcher) { launcher.add({ command, category: 'workbench', rank: 1 }); }
      if (palette) { palette.addItem({ command, category: 'workbench' }); }
    }
  }
};

export default plugin;
