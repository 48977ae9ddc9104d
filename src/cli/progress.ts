// Progress for long runs, on stderr (stdout stays clean for --json): a cli-progress
// bar updated in place when stderr is a terminal, otherwise a plain line now and
// then (never for a run shorter than the interval). Both show the rate — rows/s
// when the caller says how many rows a unit is (an epoch, an EM iteration, a pass)
// — and the time left at that rate.
import cliProgress from 'cli-progress';
import type { Progress } from './context.ts';

export interface ProgressSink extends Progress {
  /** a line on stderr that does not tear the bar */
  log(msg: string): void;
}

function formatValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4);
}

export function formatInfo(info: Record<string, number | string> | undefined): string {
  if (!info) return '';
  return Object.entries(info)
    .map(([k, v]) => `${k} ${formatValue(v)}`)
    .join('  ');
}

/** Seconds as "45s", "3m 05s", "2h 07m"; "?" when unknown. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m ${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h ${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** A rate with 3 significant figures and k/M suffixes: "812", "12.3k", "1.05M". */
export function formatRate(r: number): string {
  if (!Number.isFinite(r) || r < 0) return '?';
  const [v, suffix] = r >= 1e6 ? [r / 1e6, 'M'] : r >= 1e3 ? [r / 1e3, 'k'] : [r, ''];
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${suffix}`;
}

/**
 * "12.3k rows/s | ETA 1m 05s" for `done` of `total` units after `seconds`: rows/s when a
 * unit is `rowsPerUnit` rows, else units/s. The ETA assumes the rate so far; before the
 * first unit there is no rate ("?").
 */
export function rateAndEta(done: number, total: number, seconds: number, rowsPerUnit?: number): string {
  const units = done > 0 && seconds > 0 ? done / seconds : NaN;
  const rate = rowsPerUnit !== undefined ? `${formatRate(units * rowsPerUnit)} rows/s` : `${formatRate(units)}/s`;
  const eta = done >= total ? 0 : (total - done) / units;
  return `${rate} | ETA ${formatDuration(eta)}`;
}

/** One plain progress line: "ppca em 12/100 (12%) | 40.1k rows/s | ETA 1m 05s | loglik 181.9". */
export function progressLine(what: string, done: number, total: number, seconds: number, rowsPerUnit?: number, info?: Record<string, number | string>): string {
  const pct = total > 0 ? Math.floor((100 * Math.min(done, total)) / total) : 0;
  const extra = formatInfo(info);
  return `${what} ${done}/${total} (${pct}%) | ${rateAndEta(done, total, seconds, rowsPerUnit)}${extra ? ` | ${extra}` : ''}`;
}

/** Seconds between plain progress lines (LATENTGPU_PROGRESS_SECONDS, default 10). */
export function plainInterval(env: Record<string, string | undefined> = process.env): number {
  const v = Number(env.LATENTGPU_PROGRESS_SECONDS);
  return Number.isFinite(v) && v > 0 ? v : 10;
}

/**
 * Progress as occasional plain lines (stderr not a terminal: a log file, CI): a line when
 * `everySeconds` have passed since the start or the last line, and a last one at stop
 * if any was written. `clock` (seconds) is for tests.
 */
export function plainProgress(write: (s: string) => void, everySeconds = plainInterval(), clock: () => number = () => performance.now() / 1000): ProgressSink {
  let job: { what: string; total: number; rowsPerUnit?: number; t0: number; last: number; done: number; info?: Record<string, number | string>; wrote: boolean } | null = null;
  const line = (t: number): void => {
    if (!job) return;
    write(`${progressLine(job.what, job.done, job.total, t - job.t0, job.rowsPerUnit, job.info)}\n`);
    job.last = t;
    job.wrote = true;
  };
  const stop = (): void => {
    if (job?.wrote && job.last !== clock()) line(clock());
    job = null;
  };
  return {
    start(total, what, rowsPerUnit) {
      stop();
      const t = clock();
      job = { what, total, t0: t, last: t, done: 0, wrote: false, ...(rowsPerUnit !== undefined ? { rowsPerUnit } : {}) };
    },
    tick(done, info) {
      if (!job) return;
      job.done = done;
      job.info = info;
      const t = clock();
      if (t - job.last >= everySeconds) line(t);
    },
    stop,
    log: (msg) => write(`${msg}\n`),
  };
}

export function terminalProgress(stream: NodeJS.WriteStream, clock: () => number = () => performance.now() / 1000): ProgressSink {
  // a fresh MultiBar per stage: a stopped one keeps its bars and would redraw them
  let multi: cliProgress.MultiBar | null = null;
  let bar: cliProgress.SingleBar | null = null;
  let job = { total: 0, t0: 0, rowsPerUnit: undefined as number | undefined };
  const stop = () => {
    // MultiBar writes logged lines only on its next redraw: flush them before stopping
    multi?.update();
    multi?.stop();
    multi = null;
    bar = null;
  };
  return {
    start(total, what, rowsPerUnit) {
      stop();
      job = { total, t0: clock(), rowsPerUnit };
      multi = new cliProgress.MultiBar(
        {
          stream,
          format: '{what} [{bar}] {value}/{total} | {duration_formatted} | {rate} | {info}',
          barsize: 30,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar = multi.create(total, 0, { what, info: '', rate: rateAndEta(0, total, 0, rowsPerUnit) });
    },
    tick(done, info) {
      bar?.update(done, { info: formatInfo(info), rate: rateAndEta(done, job.total, clock() - job.t0, job.rowsPerUnit) });
    },
    stop,
    log(msg) {
      if (multi) multi.log(`${msg}\n`);
      else stream.write(`${msg}\n`);
    },
  };
}
