// Progress for long runs: a cli-progress bar on stderr when it is a terminal,
// nothing otherwise (stdout stays clean for --json).
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

export function silentProgress(write: (s: string) => void): ProgressSink {
  return {
    start() {},
    tick() {},
    stop() {},
    log: (msg) => write(`${msg}\n`),
  };
}

export function terminalProgress(stream: NodeJS.WriteStream): ProgressSink {
  // a fresh MultiBar per stage: a stopped one keeps its bars and would redraw them
  let multi: cliProgress.MultiBar | null = null;
  let bar: cliProgress.SingleBar | null = null;
  const stop = () => {
    // MultiBar writes logged lines only on its next redraw: flush them before stopping
    multi?.update();
    multi?.stop();
    multi = null;
    bar = null;
  };
  return {
    start(total, what) {
      stop();
      multi = new cliProgress.MultiBar(
        {
          stream,
          format: '{what} [{bar}] {value}/{total} | {duration_formatted} | {info}',
          barsize: 30,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar = multi.create(total, 0, { what, info: '' });
    },
    tick(done, info) {
      bar?.update(done, { info: formatInfo(info) });
    },
    stop,
    log(msg) {
      if (multi) multi.log(`${msg}\n`);
      else stream.write(`${msg}\n`);
    },
  };
}
