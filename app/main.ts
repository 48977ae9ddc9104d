// The page: setup panel, training controls, live pictures, estimators, model
// files, and the benchmark tab. All model work goes through a run of the
// library (src/browser.ts: createRun, loadRun) on the chosen backend; nothing
// here blocks the main thread for long.
import {
  FA_RUN_METHODS, PPCA_DEFAULTS, STREAMING_KINDS, WebGpuBackend, chooseLikelihood, createRun, decodeRunFile, faSweep, imputationRmse, loadRun, LikelihoodError,
  type Backend, type Dataset, type FaRunMethod, type FaSweep, type ModelRun, type PpcaSweep, type RunConfig, type RunFile, type RunKind,
} from '../src/browser.ts';
import { TrainingController, type RunState } from './controller.ts';
import { hideEntries, loadMnist, loadUserFile, makeSynthetic, type AppData } from './data.ts';
import { APP_HINT, askWorker, runOptions } from './runs.ts';
import type { SweepReply, SweepRequest } from './workers/sweep.worker.ts';
import { backendDetails, backendFromUrl, backendLabel, deviceLost, DeviceLostError, hasWebGpuApi, onDeviceLost, openBackend, openCpuBackend, untilLost, type BackendChoice } from './runtime.ts';
import { setupBenchmark, timeTraining } from './bench.ts';
import { LatentScatter, ObjectiveChart, SweepChart, type SweepSeries } from './ui/charts.ts';
import { $, InputError, download, fmt, num, setText, showError, tableRow } from './ui/dom.ts';
import { clearCanvas, drawGrid } from './ui/images.ts';
import { latentGrid, project2d } from './ui/project.ts';

const GRID = 16;
const MANIFOLD = 12;
const SCATTER_ROWS = 500;

interface App {
  backend: Backend | null;
  backendChoice: BackendChoice;
  data: AppData | null;
  dataKey: string;
  /** the data the current runner trains on */
  active: AppData | null;
  userData: AppData | null;
  controller: TrainingController | null;
  runner: ModelRun | null;
  cfg: RunConfig | null;
  /** the last parameters read back (a model file), with the step and test objective they had, to continue after a lost device */
  snapshot: { bytes: Uint8Array; step: number; test: number } | null;
  curves: { train: [number, number][]; test: [number, number][] };
  /** the data with entries hidden for a missing-values run, and what it was made from */
  hidden: { key: string; data: AppData } | null;
  /** the last imputation figures of a missing-values run */
  imputation: { model: number; mean: number; entries: number } | null;
  /** the last sweep over d */
  sweep: { model: 'ppca' | 'fa'; result: PpcaSweep | FaSweep } | null;
}

const app: App = {
  backend: null, backendChoice: 'auto', data: null, dataKey: '', active: null, userData: null,
  controller: null, runner: null, cfg: null, snapshot: null, curves: { train: [], test: [] }, hidden: null, imputation: null, sweep: null,
};

const objectiveChart = new ObjectiveChart($<HTMLCanvasElement>('chart-objective'));
const latentChart = new LatentScatter($<HTMLCanvasElement>('chart-latent'));
const sweepChart = new SweepChart($<HTMLCanvasElement>('chart-sweep'));

// ---- tabs ---------------------------------------------------------------------

function route(): void {
  const bench = location.hash === '#bench';
  $('page-train').hidden = bench;
  $('page-bench').hidden = !bench;
  $('tab-train').classList.toggle('active', !bench);
  $('tab-bench').classList.toggle('active', bench);
}
window.addEventListener('hashchange', route);
route();

// ---- backend ------------------------------------------------------------------

async function useBackend(choice: BackendChoice): Promise<void> {
  await stopRun().catch(() => {});
  resetRun();
  app.backend?.destroy();
  app.backend = null;
  setText('adapter', 'acquiring a backend…');
  const { backend, fallbackNotice, fallback } = await openBackend(choice);
  app.backend = backend;
  // our own destroy() (switching backends) also settles device.lost: only the current backend's loss counts
  onDeviceLost(backend, (text) => {
    if (app.backend === backend) deviceWasLost(text);
  });
  app.backendChoice = choice;
  showAdapter(backend, fallback === 'software' ? 'chosen over a software WebGPU adapter' : null);
  const notice = $('cpu-notice');
  notice.dataset.fallback = fallback ?? '';
  if (fallback === 'software') {
    notice.textContent = fallbackNotice;
    notice.hidden = false;
  } else if (fallbackNotice) {
    notice.textContent = `${fallbackNotice}. Everything runs on the CPU backend (slower).` +
      (hasWebGpuApi() ? '' : ' Use a browser with WebGPU enabled for the GPU.');
    notice.hidden = false;
    // WebGPU was asked for and failed: the CPU is what runs now
    if (choice === 'webgpu') checkBackendRadio('cpu');
  } else {
    notice.hidden = true;
  }
  $('lost-notice').hidden = true;
}

/** The badge: the backend's name, hardware or software for WebGPU, and why the CPU was chosen when it was. */
function showAdapter(b: Backend, why: string | null): void {
  const { name, software } = backendLabel(b);
  const el = $('adapter');
  el.textContent = name;
  const note = b.info.backend === 'webgpu' ? (software ? 'software fallback' : 'hardware') : why;
  if (note) {
    const sw = document.createElement('span');
    sw.className = 'sw';
    sw.textContent = ` · ${note}`;
    el.appendChild(sw);
  }
  el.title = backendDetails(b.info);
  el.dataset.backend = b.info.backend;
}

function checkBackendRadio(choice: BackendChoice): void {
  const radio = document.querySelector<HTMLInputElement>(`input[name=backend][value=${choice}]`);
  if (radio) radio.checked = true;
}

for (const radio of Array.from(document.querySelectorAll<HTMLInputElement>('input[name=backend]'))) {
  radio.addEventListener('change', () => {
    if (radio.checked) void useBackend(radio.value as BackendChoice);
  });
}

// ---- setup panel ----------------------------------------------------------------

function syncOptionVisibility(): void {
  const ds = $<HTMLSelectElement>('dataset').value;
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('.opts[data-for]'))) el.hidden = el.dataset.for !== ds;
  const kind = $<HTMLSelectElement>('model').value;
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('.opts[data-model]'))) {
    el.hidden = !el.dataset.model!.split(' ').includes(kind);
  }
}
$('dataset').addEventListener('change', () => {
  syncOptionVisibility();
  applyDatasetDefaults();
});
$('model').addEventListener('change', () => {
  syncOptionVisibility();
  applyModelDefaults();
  previewLikelihood();
});

/** Sensible defaults when the dataset changes: PPCA on MNIST takes the model's latent size, else d = 2 for the 2-D pictures. */
function applyDatasetDefaults(): void {
  const ds = $<HTMLSelectElement>('dataset').value;
  const kind = $<HTMLSelectElement>('model').value;
  $<HTMLInputElement>('latent').value = ds === 'mnist' && (kind.startsWith('ppca') || kind.startsWith('fa') || kind === 'mppca') ? String(PPCA_DEFAULTS.latent) : '2';
  // chosen from the data when the model is built (src/models/likelihood.ts)
  $<HTMLSelectElement>('likelihood').value = 'auto';
  previewLikelihood();
  // the stochastic-EM gradient scales with 1/σ²: MNIST's small σ² needs a small α₀
  $<HTMLInputElement>('sem-lr').value = ds === 'mnist' ? '0.0001' : '0.05';
}
/** The kinds whose step is a whole pass (an EM iteration, the closed form): one per update. */
const ONE_STEP_KINDS = ['ppca-em', 'ppca-closed', 'ppca-missing', 'fa', 'fa-missing', 'mppca'];
function applyModelDefaults(): void {
  const kind = $<HTMLSelectElement>('model').value;
  $<HTMLInputElement>('steps-per-tick').value = ONE_STEP_KINDS.includes(kind) ? '1' : '10';
}

function readConfig(): RunConfig {
  const hiddenText = $<HTMLInputElement>('hidden').value.trim();
  const hidden = hiddenText === '' ? [] : hiddenText.split(/[\s,]+/).map((s) => Number(s));
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new InputError(`hidden sizes: '${hiddenText}' is not a list of positive whole numbers`);
  return {
    kind: $<HTMLSelectElement>('model').value as RunKind,
    latent: num('latent', 'latent d', { int: true, min: 1 }),
    seed: num('seed', 'seed', { int: true, min: 0 }),
    batch: num('batch', 'batch', { int: true, min: 1 }),
    stepsPerTick: num('steps-per-tick', 'steps per update', { int: true, min: 1, max: 10_000 }),
    semLr: num('sem-lr', 'α₀', { min: 0 }),
    semTau: num('sem-tau', 'τ', { min: 0 }),
    semKappa: num('sem-kappa', 'κ', { min: 0 }),
    oemKappa: num('oem-kappa', 'κ', { min: 0 }),
    components: num('components', 'components K', { int: true, min: 1, max: 64 }),
    faMethod: $<HTMLSelectElement>('fa-method').value as FaRunMethod,
    hidden,
    likelihood: $<HTMLSelectElement>('likelihood').value as RunConfig['likelihood'],
    lr: num('lr', 'learning rate', { min: 0 }),
  };
}

/**
 * The chosen data for a run of `kind`: with entries hidden at random for a
 * missing-values run; data with missing entries are refused by the other models.
 */
async function readData(kind: RunKind = $<HTMLSelectElement>('model').value as RunKind): Promise<AppData> {
  const base = await readBaseData();
  if (base.source && !STREAMING_KINDS.includes(kind)) {
    throw new InputError(`${base.source.name} is read in slices (over the stream size under Data): only PPCA by stochastic or online EM and the VAE train on it; choose one of those, or raise the size to read it whole`);
  }
  if (kind === 'ppca-missing' || kind === 'fa-missing') {
    const pct = num('hide-pct', 'hide %', { min: 0, max: 95 });
    const seed = num('hide-seed', 'hide seed', { int: true, min: 0 });
    if (pct === 0) return base;
    const key = `${pct}:${seed}`;
    if (app.hidden?.key !== key || app.hidden.data.complete?.train !== base.train) app.hidden = { key, data: hideEntries(base, pct, seed) };
    return app.hidden.data;
  }
  if (base.missing) {
    throw new InputError(`${base.train.name}: ${base.missing} entries are missing (NaN or empty); choose "PPCA — missing values" or "factor analysis — missing values" under Model to fit with them`);
  }
  return base;
}

async function readBaseData(): Promise<AppData> {
  const ds = $<HTMLSelectElement>('dataset').value;
  if (ds === 'file') {
    if (!app.userData) throw new InputError('choose a CSV or NPY file first');
    return app.userData;
  }
  if (ds === 'mnist') {
    const trainRows = num('mnist-subset', 'MNIST train rows', { int: true, min: 16, max: 8000 });
    const testRows = num('mnist-test', 'MNIST test rows', { int: true, min: 16, max: 2000 });
    const key = `mnist:${trainRows}:${testRows}`;
    if (app.data && app.dataKey === key) return app.data;
    setText('data-status', 'loading MNIST…');
    app.data = await loadMnist(trainRows, testRows);
    app.dataKey = key;
    return app.data;
  }
  const o = {
    D: num('syn-D', 'D', { int: true, min: 2, max: 4096 }),
    d: num('syn-d', 'true d', { int: true, min: 1 }),
    n: num('syn-n', 'n', { int: true, min: 10, max: 200_000 }),
    sigma: num('syn-sigma', 'σ', { min: 0 }),
    seed: num('syn-seed', 'data seed', { int: true, min: 0 }),
  };
  const key = `syn:${JSON.stringify(o)}`;
  if (app.data && app.dataKey === key) return app.data;
  app.data = makeSynthetic(o);
  app.dataKey = key;
  return app.data;
}

/** The likelihood's reason (a note) or why the choice is impossible (an inline error) beside the select; null clears both. */
function showLikelihood(m: { note: string } | { error: string } | null): void {
  setText('likelihood-note', m && 'note' in m ? m.note : '');
  showError('likelihood-error', m && 'error' in m ? m.error : null);
}

/** With the user's file loaded, what the likelihood will be (or why not) before Start. */
function previewLikelihood(): void {
  const kind = $<HTMLSelectElement>('model').value;
  const data = $<HTMLSelectElement>('dataset').value === 'file' ? app.userData : null;
  if (!data || (kind !== 'vae' && kind !== 'lvm')) {
    showLikelihood(null);
    return;
  }
  try {
    showLikelihood({ note: chooseLikelihood($<HTMLSelectElement>('likelihood').value, [data.train, data.test], APP_HINT).reason });
  } catch (e) {
    showLikelihood({ error: (e as Error).message });
  }
}
$('likelihood').addEventListener('change', previewLikelihood);

$<HTMLInputElement>('data-file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  app.userData = null;
  showError('data-error', null);
  setText('data-status', '');
  if (!file) return;
  try {
    app.userData = await loadUserFile(file, num('stream-mib', 'stream .npy over (MiB)', { min: 1 }) * 2 ** 20);
    setText('data-status', app.userData.describe);
    previewLikelihood();
  } catch (e) {
    { const m = (e as Error).message; showError('data-error', m.includes(file.name) ? m : `${file.name}: ${m}`); }
  }
});

// ---- training -------------------------------------------------------------------

/** busy: a model is being built or loaded */
function setButtons(s: RunState | 'none' | 'busy'): void {
  const has = app.runner !== null;
  $<HTMLButtonElement>('btn-start').disabled = s === 'running' || s === 'stepping' || s === 'busy';
  $<HTMLButtonElement>('btn-pause').disabled = s !== 'running';
  $<HTMLButtonElement>('btn-resume').disabled = !(s === 'paused' || s === 'pausing' || s === 'converged');
  $<HTMLButtonElement>('btn-step').disabled = s === 'running' || s === 'pausing' || s === 'stepping' || s === 'failed' || s === 'busy';
  $<HTMLButtonElement>('btn-download').disabled = !has || s === 'running' || s === 'pausing' || s === 'stepping' || s === 'busy';
  setText('st-state', s === 'none' ? 'idle' : s);
}

/** Pauses and waits for the tick in flight, so the runner can be disposed safely. */
async function stopRun(): Promise<void> {
  app.controller?.pause();
  await app.controller?.settle();
}

function resetRun(): void {
  app.controller?.pause();
  app.runner?.dispose();
  app.controller = null;
  app.runner = null;
  app.snapshot = null;
  app.curves = { train: [], test: [] };
  objectiveChart.reset('objective', 'step');
  latentChart.clear();
  for (const id of ['cv-originals', 'cv-recon', 'cv-samples', 'cv-manifold', 'cv-loadings', 'cv-psi', 'cv-components', 'cv-complete', 'cv-holes', 'cv-imputed', 'cv-mean-imputed']) {
    clearCanvas($<HTMLCanvasElement>(id));
  }
  $('fig-manifold').hidden = true;
  $('fig-loadings').hidden = true;
  $('fig-psi').hidden = true;
  $('fig-components').hidden = true;
  $('imputation').hidden = true;
  app.imputation = null;
  for (const id of ['st-rmse-model', 'st-rmse-mean', 'st-rmse-entries']) setText(id, '–');
  $('run-figures').querySelector('tbody')!.replaceChildren();
  $('run-figures').hidden = true;
  for (const id of ['st-step', 'st-rate', 'st-train', 'st-test', 'st-optimum']) setText(id, id === 'st-step' ? '0' : '–');
  $('estimators').querySelector('tbody')!.replaceChildren();
  showError('run-error', null);
  setButtons('none');
}

/** Builds a run (new, or from a model file) and its controller; the buttons wait meanwhile. */
async function prepare(modelFile?: RunFile): Promise<void> {
  setButtons('busy');
  try {
    await build(modelFile);
  } catch (e) {
    setButtons(app.controller ? app.controller.state : 'none');
    throw e;
  }
}

async function build(modelFile?: RunFile): Promise<void> {
  if (!app.backend) throw new InputError('no backend yet');
  const cfg = readConfig();
  const data = await readData();
  setText('data-status', data.describe);
  await stopRun();
  // build the new run first: a file that fails to load leaves the current run as it was
  showLikelihood(null);
  let runner: ModelRun;
  try {
    runner = await guard(modelFile
      ? loadRun(app.backend, modelFile, cfg, data.train, data.test, runOptions(data))
      : createRun(app.backend, cfg, data.train, data.test, runOptions(data)));
  } catch (e) {
    // an explicit Bernoulli on data outside [0, 1]: the error goes beside the likelihood choice
    if (e instanceof LikelihoodError && !modelFile) {
      showLikelihood({ error: e.message });
      throw new InputError(e.message, { shown: true });
    }
    throw e;
  }
  showLikelihood(runner.likelihoodNote === undefined ? null : { note: runner.likelihoodNote });
  resetRun();
  setButtons('busy');
  app.runner = runner;
  app.cfg = cfg;
  app.active = data;
  objectiveChart.reset(runner.objectiveName, runner.unitName);
  objectiveChart.setOptimum(runner.optimum);
  objectiveChart.render();
  setText('st-unit-label', runner.unitName);
  setText('st-optimum', fmt(runner.optimum));
  $('fig-manifold').hidden = runner.latent !== 2;
  $('fig-loadings').hidden = !runner.loadings;
  $('fig-psi').hidden = !runner.noiseVariances;
  $('fig-components').hidden = !runner.components;
  $('imputation').hidden = !runner.impute;
  $('fig-complete').hidden = !data.complete;
  app.controller = new TrainingController(runner, {
    onTick: (r, total) => {
      setText('st-step', String(total));
      const rate = app.controller?.rate;
      setText('st-rate', rate === undefined ? '–' : rate.toFixed(rate < 100 ? 1 : 0));
      // train figures of earlier parameters measured during the tick (EM's iterates), then the tick's own
      for (const [step, y] of r.train ?? []) addTrainPoint(step, y);
      if (r.trainObjective !== undefined) addTrainPoint(total, r.trainObjective);
      // the test curve's periodic points, measured by the trainer during the tick
      for (const [step, y] of r.test ?? []) addTestPoint(step, y);
    },
    onState: (s) => setButtons(s),
    onRefresh: refreshViews,
    onError: onRunError,
  }, guard);
  // pictures of the starting point, before any training
  await app.controller.refreshNow();
  setButtons(app.controller.state);
}

/** Every await on the current backend goes through this (see untilLost). */
function guard<T>(p: Promise<T>): Promise<T> {
  return untilLost(app.backend, p);
}

async function refreshViews(): Promise<void> {
  const runner = app.runner;
  const data = app.active;
  if (!runner || !data) return;
  const step = app.controller?.steps ?? 0;
  const { train, test } = await runner.evaluate();
  // the parameters are fixed until this refresh ends: keep them with the test objective just measured
  if (app.backend instanceof WebGpuBackend) app.snapshot = { bytes: await runner.save(), step, test };
  addTestPoint(step, test);
  addTrainPoint(step, train);
  setText('st-train', fmt(train));
  setText('st-test', fmt(test));
  objectiveChart.render();

  const D = runner.D;
  const scaling = data.unitRange ? 'unit' : 'range';
  const rows = Math.min(GRID, data.test.n);
  const originals = showcaseRows(data.test, rows);
  drawGrid($<HTMLCanvasElement>('cv-originals'), originals, rows, D, { scaling });
  drawGrid($<HTMLCanvasElement>('cv-recon'), await runner.reconstruct(originals, rows), rows, D, { scaling });
  drawGrid($<HTMLCanvasElement>('cv-samples'), await runner.samplePrior(GRID), GRID, D, { scaling });
  const d = runner.latent;
  if (d === 2) {
    const z = latentGrid(MANIFOLD);
    drawGrid($<HTMLCanvasElement>('cv-manifold'), await runner.decode(z, MANIFOLD * MANIFOLD), MANIFOLD * MANIFOLD, D, { scaling, cols: MANIFOLD });
  }
  if (runner.loadings) {
    drawGrid($<HTMLCanvasElement>('cv-loadings'), await runner.loadings(), d, D, { scaling: 'signed', columns: true, cols: Math.min(d, 10) });
  }
  if (runner.components) {
    const c = await runner.components();
    drawGrid($<HTMLCanvasElement>('cv-components'), c.means, c.K, D, { scaling, cols: Math.min(c.K, 8) });
    setText('cap-components', `component means (π = ${Array.from(c.weights, (w) => w.toFixed(2)).join(', ')})`);
  }
  if (runner.noiseVariances) drawGrid($<HTMLCanvasElement>('cv-psi'), await runner.noiseVariances(), 1, D, { scaling: 'range' });
  if (runner.figures) showFigures(await runner.figures());
  if (runner.impute) await showImputation(runner, data, rows, scaling);
  const srows = Math.min(SCATTER_ROWS, data.test.n);
  const means = await runner.latentMeans(data.test.x.subarray(0, srows * D), srows);
  // the per-point model answers for the test rows it fitted, possibly fewer
  const mrows = Math.min(srows, Math.floor(means.length / d));
  const { points, axes } = project2d(means, mrows, d);
  latentChart.set(points, data.test.labels?.subarray(0, mrows), axes, `test latent means (${mrows} rows)`);
}

/** A run's figures beyond its objective (FA: Heywood columns) as a small table. */
function showFigures(figures: { name: string; value: number | string }[]): void {
  const table = $('run-figures');
  table.hidden = figures.length === 0;
  table.querySelector('tbody')!.replaceChildren(...figures.map((f) => {
    const tr = tableRow([f.name, String(f.value)]);
    tr.dataset.figure = f.name;
    return tr;
  }));
}

/**
 * Missing values: the test rows imputed by the model and by the column means,
 * the RMSE of both on the hidden entries (when the page hid them and so knows
 * them), and a few rows drawn: complete, with holes, imputed both ways.
 */
async function showImputation(runner: ModelRun, data: AppData, rows: number, scaling: 'unit' | 'range'): Promise<void> {
  const D = runner.D;
  const all = await runner.impute!(data.test.x, data.test.n);
  if (data.complete) {
    const truth = data.complete.test.x;
    const model = imputationRmse(truth, data.test.x, all.posterior);
    const mean = imputationRmse(truth, data.test.x, all.mean);
    app.imputation = { model: model.rmse, mean: mean.rmse, entries: model.entries };
    setText('st-rmse-model', fmt(model.rmse, 4));
    setText('st-rmse-mean', fmt(mean.rmse, 4));
    setText('st-rmse-entries', String(model.entries));
    drawGrid($<HTMLCanvasElement>('cv-complete'), showcaseRows(data.complete.test, rows), rows, D, { scaling });
  }
  const pick = (x: Float32Array): Float32Array => showcaseRows({ ...data.test, x }, rows, false);
  drawGrid($<HTMLCanvasElement>('cv-holes'), showcaseRows(data.test, rows), rows, D, { scaling, nanRed: true });
  drawGrid($<HTMLCanvasElement>('cv-imputed'), pick(all.posterior), rows, D, { scaling });
  drawGrid($<HTMLCanvasElement>('cv-mean-imputed'), pick(all.mean), rows, D, { scaling });
}

/** A point of the train curve, in step order (a step already on it keeps its first figure). */
function addTrainPoint(step: number, y: number): void {
  const last = app.curves.train.at(-1);
  if (!Number.isFinite(y) || (last && last[0] >= step)) return;
  app.curves.train.push([step, y]);
  objectiveChart.add('train', step, y);
  setText('st-train', fmt(y));
}

/** A point of the test curve, once per step (a refresh right after a periodic point measures the same). */
function addTestPoint(step: number, y: number): void {
  if (!Number.isFinite(y) || app.curves.test.at(-1)?.[0] === step) return;
  app.curves.test.push([step, y]);
  objectiveChart.add('test', step, y);
}

const showcase = new WeakMap<Dataset, Float32Array>();

/** `rows` rows spread evenly over a test set (MNIST's are digit-ordered), copied once per dataset unless `cache` is false. */
function showcaseRows(test: Dataset, rows: number, cache = true): Float32Array {
  let x = cache ? showcase.get(test) : undefined;
  if (!x) {
    const D = test.D;
    x = new Float32Array(rows * D);
    for (let r = 0; r < rows; r++) {
      const i = Math.floor((r * test.n) / rows);
      x.set(test.x.subarray(i * D, (i + 1) * D), r * D);
    }
    if (cache) showcase.set(test, x);
  }
  return x;
}

/** The device is gone: stop the run, keep the last good parameters, offer the CPU. */
function deviceWasLost(text: string): void {
  app.controller?.fail();
  // a read-back in flight may fail before device.lost settles (mapAsync: "unmapped before mapping was resolved"): the notice replaces its error
  showError('run-error', null);
  const s = app.snapshot;
  setText('lost-text', `${text}. ` +
    (s ? `The parameters read back at ${app.runner?.unitName ?? 'step'} ${s.step} (test objective ${fmt(s.test)}) are kept.` : 'No parameters were read back yet; training restarts.'));
  const notice = $('lost-notice');
  notice.dataset.step = s ? String(s.step) : '';
  notice.dataset.testObjective = s ? String(s.test) : '';
  notice.hidden = false;
}

function onRunError(e: unknown): void {
  const lost = app.backend ? deviceLost(app.backend) : null;
  if (e instanceof DeviceLostError || lost) {
    deviceWasLost(e instanceof DeviceLostError ? e.message : `The WebGPU device was lost (${lost!.reason}: ${lost!.message || 'no message'})`);
    return;
  }
  showError('run-error', (e as Error).message ?? String(e));
}

async function guarded(action: () => Promise<void>, errorId = 'run-error'): Promise<void> {
  showError(errorId, null);
  try {
    await action();
  } catch (e) {
    if (e instanceof InputError && e.shown) return;
    if (e instanceof InputError || errorId !== 'run-error') showError(errorId, (e as Error).message);
    else onRunError(e);
  }
}

$('btn-start').addEventListener('click', () => guarded(async () => {
  if (!app.controller || app.controller.state === 'failed' || app.controller.steps > 0) await prepare();
  app.controller!.start();
}));
$('btn-pause').addEventListener('click', () => {
  app.controller?.pause();
});
$('btn-resume').addEventListener('click', () => app.controller?.start());
$('btn-step').addEventListener('click', () => guarded(async () => {
  if (!app.controller) await prepare();
  await app.controller!.stepOnce();
}));
$('btn-reset').addEventListener('click', () => guarded(async () => {
  await stopRun();
  resetRun();
}));

// ---- estimators -------------------------------------------------------------------

$('btn-estimate').addEventListener('click', () => guarded(async () => {
  const runner = app.runner;
  const data = app.active;
  if (!runner || !data) throw new InputError('start or load a model first');
  const K = num('est-k', 'K', { int: true, min: 1, max: 5000 });
  const rows = Math.min(num('est-rows', 'estimator rows', { int: true, min: 1 }), data.test.n);
  const wasRunning = app.controller?.state === 'running';
  await stopRun();
  const tbody = $('estimators').querySelector('tbody')!;
  tbody.replaceChildren();
  setText('model-status', `estimating on ${rows} test rows with K = ${K}…`);
  const values = await guard(runner.estimators(data.test.x.subarray(0, rows * runner.D), rows, K));
  for (const v of values) {
    const tr = tableRow([v.name, fmt(v.value)]);
    tr.dataset.estimator = v.name;
    tr.cells[1]!.dataset.value = String(v.value);
    tbody.append(tr);
  }
  setText('model-status', `estimators on ${rows} test rows, K = ${K}`);
  if (wasRunning) app.controller?.start();
}));

// ---- choosing d ----------------------------------------------------------------------

/** The PPCA sweep in a Web Worker (one full eigendecomposition on the host). */
async function ppcaSweepInWorker(train: Dataset, test: Dataset, dMin: number, dMax: number): Promise<PpcaSweep> {
  const req: SweepRequest = {
    train: { x: train.x.slice(), n: train.n, D: train.D, name: train.name }, test: { x: test.x.slice(), n: test.n, D: test.D }, dMin, dMax,
  };
  const worker = new Worker(new URL('./workers/sweep.worker.ts', import.meta.url), { type: 'module' });
  const reply = await askWorker<SweepRequest, SweepReply>(worker, req, [req.train.x.buffer, req.test.x.buffer]);
  if ('error' in reply) throw new Error(reply.error);
  return reply.sweep;
}

/** Every criterion per sample (higher is better): held-out ℓ, −BIC/(2n) and, for PPCA, Minka's log evidence / n. */
function sweepSeries(model: 'ppca' | 'fa', s: PpcaSweep | FaSweep): SweepSeries[] {
  const n = s.n_train;
  const out: SweepSeries[] = [
    { name: 'held-out ℓ', points: s.rows.map((r) => ({ x: r.d, y: r.test_loglik })), chosen: s.chosen.test_loglik },
    { name: '−BIC / 2n', points: s.rows.map((r) => ({ x: r.d, y: -r.bic / (2 * n) })), chosen: s.chosen.bic },
  ];
  if (model === 'ppca') {
    const p = s as PpcaSweep;
    out.push({ name: 'Minka log evidence / n', points: p.rows.map((r) => ({ x: r.d, y: r.minka / n })), chosen: p.chosen.minka });
  }
  return out;
}

function showSweep(model: 'ppca' | 'fa', s: PpcaSweep | FaSweep): void {
  sweepChart.set(sweepSeries(model, s), `${model === 'ppca' ? 'PPCA' : 'factor analysis'}: ${s.n_train} train, ${s.n_test} held-out rows, D = ${s.D}`);
  const table = $('sweep-table');
  table.hidden = false;
  table.querySelector('tbody')!.replaceChildren(...s.rows.map((r) => {
    const tr = tableRow([String(r.d), fmt(r.train_loglik), fmt(r.test_loglik), fmt(r.bic, 1), 'minka' in r ? fmt(r.minka / s.n_train) : 'n/a'], 0);
    tr.dataset.d = String(r.d);
    return tr;
  }));
  const c = s.chosen;
  setText('sweep-status', `chosen d: held-out ℓ ${c.test_loglik}, BIC ${c.bic}` + ('minka' in c ? `, Minka ${c.minka}` : ''));
}

$('btn-sweep').addEventListener('click', () => guarded(async () => {
  const model = $<HTMLSelectElement>('sweep-model').value as 'ppca' | 'fa';
  const dMin = num('sweep-from', 'd from', { int: true, min: 1 });
  const dMax = num('sweep-to', 'd to', { int: true, min: dMin });
  const iters = num('sweep-iters', 'EM iterations', { int: true, min: 1 });
  if (!app.backend) throw new InputError('no backend yet');
  const data = await readData('ppca-em');
  if (dMax >= data.train.D) throw new InputError(`d to must be below the data dimension D = ${data.train.D}, got ${dMax}`);
  const button = $<HTMLButtonElement>('btn-sweep');
  button.disabled = true;
  $<HTMLButtonElement>('btn-sweep-json').disabled = true;
  app.sweep = null;
  sweepChart.clear();
  $('sweep-table').hidden = true;
  try {
    setText('sweep-status', model === 'ppca' ? `sweeping d = ${dMin}..${dMax} (one eigendecomposition)…` : `fitting d = ${dMin}…`);
    const result = model === 'ppca'
      ? await ppcaSweepInWorker(data.train, data.test, dMin, dMax)
      : await guard(faSweep(app.backend, data.train, data.test, dMin, dMax, {
        maxIters: iters, seed: num('seed', 'seed', { int: true, min: 0 }), onFit: (d) => setText('sweep-status', `fitting d = ${d} of ${dMin}..${dMax}…`),
      }));
    app.sweep = { model, result };
    showSweep(model, result);
    $<HTMLButtonElement>('btn-sweep-json').disabled = false;
  } catch (e) {
    setText('sweep-status', '');
    throw e;
  } finally {
    button.disabled = false;
  }
}, 'sweep-error'));

$('btn-sweep-json').addEventListener('click', () => {
  const s = app.sweep;
  if (!s) return;
  const json = JSON.stringify({ model: s.model, ...s.result, ...('eigenvalues' in s.result ? { eigenvalues: Array.from(s.result.eigenvalues) } : {}) }, null, 2);
  download(new TextEncoder().encode(`${json}\n`), `latentgpu-sweep-${s.model}-d${s.result.rows[0]!.d}-${s.result.rows.at(-1)!.d}.json`, 'application/json');
});

// ---- model files --------------------------------------------------------------------

$('btn-download').addEventListener('click', () => guarded(async () => {
  const runner = app.runner;
  if (!runner) throw new InputError('no model to download');
  await app.controller?.settle();
  const bytes = await guard(runner.save());
  download(bytes, `latentgpu-${runner.kind}-d${runner.latent}.safetensors`);
  setText('model-status', `saved ${runner.kind} (${bytes.length} bytes)`);
}, 'model-error'));

$<HTMLInputElement>('model-file').addEventListener('change', (ev) => guarded(async () => {
  const input = ev.target as HTMLInputElement;
  const file = input.files?.[0];
  input.value = '';
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  try {
    // the file says which model it holds; the setup panel follows it
    const runFile = decodeRunFile(bytes);
    $<HTMLSelectElement>('model').value = runFile.kind;
    syncOptionVisibility();
    await prepare(runFile);
    showLoadedConfig(runFile);
  } catch (e) {
    throw new InputError(`Cannot load ${file.name}: ${(e as Error).message}`);
  }
  setText('model-status', `loaded ${file.name} (${bytes.length} bytes)`);
}, 'model-error'));

/** After loading a file: show the architecture it holds in the setup panel. */
function showLoadedConfig(f: RunFile): void {
  $<HTMLInputElement>('latent').value = String(f.latent);
  if (f.hidden) $<HTMLInputElement>('hidden').value = f.hidden.join(',');
  if (f.likelihood) $<HTMLSelectElement>('likelihood').value = f.likelihood;
  if (f.components) $<HTMLInputElement>('components').value = String(f.components);
  const method = f.file.metadata.method;
  if (f.kind === 'fa' && method && (FA_RUN_METHODS as readonly string[]).includes(method)) $<HTMLSelectElement>('fa-method').value = method;
}

// ---- device lost ------------------------------------------------------------------------

$('lost-continue').addEventListener('click', () => guarded(async () => {
  const snapshot = app.snapshot;
  checkBackendRadio('cpu');
  await useBackend('cpu');
  if (snapshot) await prepare(decodeRunFile(snapshot.bytes));
  else await prepare();
  setText('model-status', snapshot ? 'continued on the CPU from the last parameters' : 'restarted on the CPU');
}));

// ---- start-up ---------------------------------------------------------------------------

/** Hooks for the end-to-end tests and e2e/measure-cpu-vae.ts (curves as numbers, a way to lose the device, a throughput probe). */
(window as unknown as { latentgpu: unknown }).latentgpu = {
  curves: () => structuredClone(app.curves),
  /** the missing-values run's imputation RMSEs on the hidden test entries */
  imputation: () => app.imputation,
  /** the sweep chart's series labels as drawn */
  sweepLegend: () => sweepChart.labels(),
  /** the last sweep over d, as its JSON download holds it */
  sweep: () => (app.sweep ? JSON.parse(JSON.stringify({ model: app.sweep.model, ...app.sweep.result, eigenvalues: undefined })) as unknown : null),
  state: () => app.controller?.state ?? 'idle',
  steps: () => app.controller?.steps ?? 0,
  loseDevice: () => {
    if (app.backend instanceof WebGpuBackend) app.backend.device.destroy();
  },
  backend: () => app.backend?.info.summary ?? null,
  /** the benchmark chart's row labels as drawn */
  benchLabels: () => benchChart.shownLabels(),
  crossOriginIsolated: () => globalThis.crossOriginIsolated === true,
  /** training samples/s of a model on a fresh backend of its own (the page's run is untouched) */
  measureTraining: async (choice: BackendChoice, kind: RunKind, cfg: Partial<RunConfig>, seconds: number, threads?: number) => {
    const backend = choice === 'cpu' ? await openCpuBackend(threads) : (await openBackend(choice)).backend;
    try {
      return { backend: backend.info.summary, samplesPerSecond: await timeTraining(backend, kind, cfg, seconds) };
    } finally {
      backend.destroy();
    }
  },
};

syncOptionVisibility();
const benchChart = setupBenchmark();
// ?backend=webgpu forces WebGPU even on a software adapter (the end-to-end tests use it)
const initialBackend = backendFromUrl(location.search) ?? 'auto';
checkBackendRadio(initialBackend);
void useBackend(initialBackend).then(() => setButtons('none'));
