// Devices & Jobs sidebar and launcher items. The front end holds no business logic: it shows
// what /workbench/api/ returns and asks the server to cancel; everything else is in Python.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

interface IDevice { id: string; kind: string; name: string; total_memory: number; load: number; drained: boolean;
  profile: { matmul_tflops_fp32: number; memory_gbps: number } | null; }
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
    this.node.append(this.error, this.section('Devices', ['', 'device', 'kind', 'load'], this.devices),
      this.section('Jobs', ['', 'job', 'device', 'state'], this.jobs), this.empty);
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

  protected onAfterAttach(): void { void this.refresh(); this.timer = window.setInterval(() => void this.refresh(), 1000); }
  protected onBeforeDetach(): void { window.clearInterval(this.timer); }

  async refresh(): Promise<void> {
    try {
      const [{ devices }, { jobs }] = await Promise.all([api<{ devices: IDevice[] }>('devices'),
        api<{ jobs: IJob[] }>('jobs?limit=30')]);
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
        tr.append(action, cell(d.id), cell(d.kind), cell(`${d.load} job${d.load === 1 ? '' : 's'}`));
        tr.title = `${d.name}: ${gib(d.total_memory)}` + (d.drained ? ' (drained)' : '');
        return tr;
      }));
      this.jobs.replaceChildren(...jobs.map(j => this.jobRow(j)));
      this.empty.textContent = jobs.length ? '' : 'No jobs yet: run a widget, or `workbench run ...` in a terminal.';
    } catch (err) {
      this.error.textContent = `workbench API: ${(err as Error).message}`;
    }
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
    '<polygon points="5,16 10,9 14,14 16,12 19,16"/><circle cx="16.5" cy="8" r="1.8"/>')
};

const CAPABILITIES: { name: string; label: string; code: string }[] = [
  { name: 'molecules', label: 'Molecules',
    code: 'from workbench.widgets import MoleculeWidget\nMoleculeWidget("CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O ibuprofen")' },
  { name: 'grasping', label: 'Grasping', code: 'from workbench.widgets import GraspWidget\nGraspWidget("can")' },
  { name: 'multimodal', label: 'Multimodal',
    code: 'from workbench.widgets import GenerationWidget\nGenerationWidget("a watercolour of a red cube")' }
];

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'workbench-lab:plugin',
  description: 'Devices & Jobs sidebar and launcher items for workbench',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ILayoutRestorer],
  activate: (app: JupyterFrontEnd, launcher: ILauncher | null, palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null) => {
    const panel = new DevicesAndJobs();
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
