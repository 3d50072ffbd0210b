// Devices & Jobs sidebar and launcher items. The front end holds no business logic: it shows
// what /workbench/api/ returns and asks the server to cancel; everything else is in Python.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

interface IUsage { memory_used: number; memory_total: number; utilisation: number | null; source: string; }
interface IDevice { id: string; kind: string; name: string; total_memory: number; load: number; drained: boolean;
  profile: { matmul_tflops_fp32: number; memory_gbps: number } | null; usage: IUsage; }
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

function cell(text: string, cls = ''): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) { td.className = cls; }
  return td;
}

function gib(bytes: number): string { return bytes ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : '-'; }

const SVG = 'http://www.w3.org/2000/svg';
const HISTORY = 60;  // samples kept per device: a minute at the default refresh

// a small utilisation history (percent, or running jobs when the device reports no utilisation)
function sparkline(values: number[], top: number): SVGSVGElement {
  const w = 64, h = 16;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(h));
  svg.setAttribute('class', 'wb-spark');
  const path = document.createElementNS(SVG, 'path');
  const x = (i: number) => (w * (HISTORY - values.length + i)) / (HISTORY - 1);
  const y = (v: number) => h - 1 - ((h - 2) * Math.min(v, top)) / top;
  path.setAttribute('d', values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '));
  svg.append(path);
  return svg;
}

const FILTERS: { [name: string]: (j: IJob) => boolean } = {
  all: () => true,
  active: j => j.state === 'queued' || j.state === 'running',
  failed: j => j.state === 'failed' || j.state === 'cancelled',
  succeeded: j => j.state === 'succeeded'
};

function duration(job: IJob): string {
  if (!job.started) { return '-'; }
  const end = job.finished ?? Date.now() / 1000;
  return `${(end - job.started).toFixed(1)} s`;
}

class DevicesAndJobs extends Widget {
  private timer = 0;
  private devices = document.createElement('tbody');
  private jobs = document.createElement('tbody');
  private error = document.createElement('div');
  private empty = document.createElement('div');
  private stateFilter = document.createElement('select');
  private taskFilter = document.createElement('input');
  private history = new Map<string, number[]>();
  private lastJobs: IJob[] = [];
  private interval = 2;  // seconds between refreshes (setting: refreshInterval)
  private limit = 50;  // jobs fetched (setting: jobsShown)

  constructor() {
    super();
    this.id = 'workbench-devices-jobs';
    this.title.label = 'Devices & Jobs';
    this.title.caption = 'workbench: devices and jobs';
    this.title.closable = true;
    this.addClass('wb-sidebar');
    this.error.className = 'wb-error';
    // actions first and few columns: the panel is 250 px wide by default (details are in each row's tooltip)
    this.empty.className = 'wb-empty';
    for (const name of Object.keys(FILTERS)) {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name;
      this.stateFilter.append(option);
    }
    this.stateFilter.className = 'wb-filter-state';
    this.stateFilter.title = 'Show jobs in these states';
    this.taskFilter.className = 'wb-filter-task';
    this.taskFilter.placeholder = 'task or device';
    this.taskFilter.size = 10;
    this.stateFilter.onchange = () => this.drawJobs();
    this.taskFilter.oninput = () => this.drawJobs();
    const filters = document.createElement('div');
    filters.className = 'wb-filters';
    filters.append(this.stateFilter, this.taskFilter);
    const jobs = this.section('Jobs', ['', 'job', 'device', 'state'], this.jobs);
    jobs.insertBefore(filters, jobs.lastChild);
    this.node.append(this.error, this.section('Devices', ['', 'device', 'use', 'load'], this.devices), jobs,
      this.empty);
  }

  /** Apply the settings (refresh interval, jobs shown); restarts the timer when attached. */
  configure(interval: number, limit: number): void {
    this.interval = Math.max(0.5, interval);
    this.limit = Math.max(1, Math.min(1000, Math.round(limit)));
    this.node.dataset.refresh = String(this.interval);
    if (this.isAttached) {
      window.clearInterval(this.timer);
      this.timer = window.setInterval(() => void this.refresh(), this.interval * 1000);
    }
  }

  private section(title: string, headers: string[], body: HTMLTableSectionElement): HTMLElement {
    const wrap = document.createElement('div');
    const h = document.createElement('h3');
    h.textContent = title;
    const table = document.createElement('table');
    const head = document.createElement('tr');
    headers.forEach(x => { const th = document.createElement('th'); th.textContent = x; head.append(th); });
    table.append(head, body);
    table.className = `wb-${title.toLowerCase()}`;
    wrap.append(h, table);
    return wrap;
  }

  protected onAfterAttach(): void {
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), this.interval * 1000);
  }
  protected onBeforeDetach(): void { window.clearInterval(this.timer); }

  async refresh(): Promise<void> {
    try {
      const [{ devices }, { jobs }] = await Promise.all([api<{ devices: IDevice[] }>('devices'),
        api<{ jobs: IJob[] }>(`jobs?limit=${this.limit}`)]);
      this.error.textContent = '';
      this.devices.replaceChildren(...devices.map(d => {
        const tr = document.createElement('tr');
        tr.dataset.device = d.id;
        // drain: every kernel moves its jobs off this device; they resume elsewhere from their checkpoints
        const action = document.createElement('td');
        const drain = document.createElement('button');
        drain.textContent = d.drained ? 'Undrain' : 'Drain';
        drain.className = 'wb-drain';
        drain.title = d.drained ? 'Let this device take work again'
          : 'Move queued and running jobs off this device (they resume elsewhere) and give it no new work';
        drain.onclick = async () => {
          await api(`devices/${encodeURIComponent(d.id)}/${d.drained ? 'undrain' : 'drain'}`, { method: 'POST' })
            .catch(() => undefined);
          void this.refresh();
        };
        action.append(drain);
        tr.dataset.drained = String(d.drained);
        tr.append(action, cell(d.id), this.useCell(d), cell(`${d.load} job${d.load === 1 ? '' : 's'}`));
        tr.title = `${d.name} (${d.kind}): ${gib(d.total_memory)}` + (d.drained ? ' (drained)' : '');
        return tr;
      }));
      this.lastJobs = jobs;
      this.drawJobs();
    } catch (err) {
      this.error.textContent = `workbench API: ${(err as Error).message}`;
    }
  }

  // memory in use now and a utilisation history (percent; running jobs where the device reports none)
  private useCell(d: IDevice): HTMLTableCellElement {
    const u = d.usage;
    const sample = u && u.utilisation !== null ? u.utilisation : d.load;
    const values = [...(this.history.get(d.id) ?? []), sample].slice(-HISTORY);
    this.history.set(d.id, values);
    const td = cell('', 'wb-use');
    const text = document.createElement('small');
    const percent = u && u.utilisation !== null ? `${Math.round(u.utilisation)}% ` : '';
    text.textContent = u && u.memory_total ? `${percent}${gib(u.memory_used).replace(' GiB', '')}/${gib(u.memory_total)}`
      : percent || '-';
    td.append(sparkline(values, u && u.utilisation !== null ? 100 : Math.max(1, ...values)), text);
    td.title = u ? (u.utilisation !== null ? `utilisation ${u.utilisation.toFixed(0)}% now; ` : 'running jobs over time; ')
      + `memory in use ${gib(u.memory_used)} of ${gib(u.memory_total)}`
      + (u.source === 'published' ? ' (as published when discovered)' : ` (${u.source})`) : '';
    td.dataset.memoryUsed = String(u ? u.memory_used : 0);
    return td;
  }

  private drawJobs(): void {
    const keep = FILTERS[this.stateFilter.value] ?? FILTERS.all;
    const words = this.taskFilter.value.trim().toLowerCase();
    const shown = this.lastJobs.filter(j => keep(j) && (!words || `${j.task} ${j.device} ${j.id}`.toLowerCase()
      .includes(words)));
    this.jobs.replaceChildren(...shown.map(j => this.jobRow(j)));
    this.empty.textContent = this.lastJobs.length
      ? (shown.length ? '' : `No ${this.stateFilter.value === 'all' ? '' : this.stateFilter.value + ' '}jobs match.`)
      : 'No jobs yet: run a widget, or `workbench run ...` in a terminal.';
  }

  private jobRow(j: IJob): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.dataset.job = j.id;
    tr.dataset.state = j.state;
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = j.state === 'succeeded' ? 1 : (j.progress ?? 0);
    const action = document.createElement('td');
    if (j.state === 'queued' || j.state === 'running') {
      const b = document.createElement('button');
      b.textContent = 'Cancel';
      b.className = 'wb-cancel';
      b.onclick = async () => { await api(`jobs/${j.id}/cancel`, { method: 'POST' }).catch(() => undefined); void this.refresh(); };
      action.append(b);
    } else if (j.state === 'succeeded') {
      const a = document.createElement('a');
      a.textContent = 'result';
      a.className = 'wb-result';
      a.href = URLExt.join(ServerConnection.makeSettings().baseUrl, 'workbench/jobs', j.id);  // a readable page
      a.target = '_blank';
      action.append(a);
    }
    const state = cell(j.state, `wb-state-${j.state}`);
    state.append(document.createElement('br'), bar);
    state.title = `${j.reason || j.message} (${duration(j)})`;
    const device = cell(j.device, 'wb-job-device');
    device.title = j.placement || '';  // "placed on X: about 12 s, vs Y about 40 s with 2 queued"
    const job = cell(j.task);
    const id = document.createElement('small');
    id.textContent = ` ${j.id.slice(-6)}`;
    job.append(id);
    job.title = j.id;
    tr.append(action, job, device, state);
    return tr;
  }
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
  optional: [ILauncher, ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (app: JupyterFrontEnd, launcher: ILauncher | null, palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null, settings: ISettingRegistry | null) => {
    const panel = new DevicesAndJobs();
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
