// Harness for hostile-input tests: runs the real command line in a child
// process with a wall-clock limit and a V8 heap limit, and reports its exit
// code, output, time, peak resident memory and which watched files changed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface HostileRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** peak resident set of the child, MiB (null when it died before reporting) */
  maxRssMb: number | null;
  /** watched paths whose content (or existence) changed */
  changed: string[];
}

function fingerprint(path: string): string {
  if (!existsSync(path)) return 'absent';
  const st = statSync(path);
  if (!st.isFile()) return `${st.mode}`;
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Runs `latentgpu <args>` (src/cli/main.ts's runCli) in a child with
 * `--max-old-space-size=heapMb` and a `timeoutMs` limit.
 */
export function runCliChild(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; heapMb?: number; watch?: string[] } = {}): HostileRun {
  const watch = opts.watch ?? [];
  const before = watch.map(fingerprint);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${opts.heapMb ?? 1024}`, '--import', 'tsx', join(ROOT, 'test/hostile/child.ts'), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, LATENTGPU_DEBUG: '', ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  let maxRssMb: number | null = null;
  const report = (r.output?.[3] as string | null | undefined) ?? '';
  if (report) maxRssMb = (JSON.parse(report) as { maxRssKb: number }).maxRssKb / 1024;
  const after = watch.map(fingerprint);
  return {
    code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms, maxRssMb,
    changed: watch.filter((_, i) => before[i] !== after[i]),
  };
}

/** The stderr lines a user sees (npm's own warnings dropped). */
export function errorLines(r: HostileRun): string[] {
  return r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));
}

/**
 * The bar for a rejected input: exit code 1, nothing on stdout, exactly one
 * stderr line `latentgpu: …` containing every fragment (the file, the problem),
 * within the time and memory bounds, and no watched file changed.
 */
export function expectRejected(r: HostileRun, fragments: Array<string | RegExp>, bounds: { ms?: number; rssMb?: number } = {}): void {
  const lines = errorLines(r);
  const what = `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, ${r.ms.toFixed(0)} ms, ${r.maxRssMb?.toFixed(0)} MiB; stderr:\n${r.stderr.slice(0, 2000)}`;
  expect(r.code, what).toBe(1);
  expect(r.stdout, what).toBe('');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(/^latentgpu: /);
  expect(lines[0], what).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  for (const f of fragments) {
    if (typeof f === 'string') expect(lines[0], what).toContain(f);
    else expect(lines[0], what).toMatch(f);
  }
  expect(r.ms, what).toBeLessThan(bounds.ms ?? 20_000);
  expect(r.maxRssMb ?? Infinity, what).toBeLessThan(bounds.rssMb ?? 1024);
  expect(r.changed, what).toEqual([]);
}
