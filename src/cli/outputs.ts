// Output paths checked before any work: each output's folder exists (or, for a
// run folder, can be created) and takes a file, --out is not a folder, and no
// output is the same file as an input (by resolved path and by device + inode,
// so ./x, symlinks and hard links count), so a run never overwrites its data or
// loses its result to a missing folder after training.
import { closeSync, existsSync, openSync, realpathSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { printable } from '../data/dataset.ts';

export interface PathInput {
  /** the flag that names it, e.g. "--data" */
  flag: string;
  path: string;
}

export interface OutputPlan {
  /** files the command reads */
  inputs: PathInput[];
  /** --out, when given */
  out?: string;
  /** the run folder: --run-dir, or the model's default (under runs/), or none */
  runDir?: { path: string; given: boolean; /** the flag that names it (default --run-dir) */ flag?: string };
  /** files written inside the run folder (checkpoint, model file), by name */
  runFiles?: string[];
  /** an input the run may replace: --resume is the run folder's own checkpoint when a run continues in place */
  replaceable?: { flag: string; file: string };
}

const shown = (p: string): string => printable(p, 200);

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Where a path leads: its real path when it exists, else its real parent folder joined with its name. */
function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(resolve(path));
    return parent === resolve(path) ? parent : join(canonical(parent), basename(path));
  }
}

/** Whether two paths name one file: the same real path, or (both existing) the same device and inode. */
export function sameFile(a: string, b: string): boolean {
  if (canonical(a) === canonical(b)) return true;
  const sa = statOrNull(a);
  const sb = statOrNull(b);
  return sa !== null && sb !== null && sa.dev === sb.dev && sa.ino === sb.ino;
}

const WHY: Record<string, string> = { EACCES: 'permission denied', EPERM: 'not permitted', EROFS: 'read-only file system', ENOSPC: 'no space left' };

/**
 * Creates and removes a file in `dir`: the only test that tells (access(2)
 * says yes to root on a read-only mount, /proc, /sys). Returns why not, or null.
 */
function cannotWriteIn(dir: string): string | null {
  const probe = join(dir, `.latentgpu-write-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return WHY[code] ?? (code || (e as Error).message);
  }
}

/** The nearest folder of `path` (itself included) that exists. */
function existingAncestor(path: string): string {
  let p = resolve(path);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

function inside(dir: string, path: string): boolean {
  const r = relative(resolve(dir), resolve(path));
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

function checkRunDir(dir: string, given: boolean, flag = '--run-dir'): void {
  const what = given ? `${flag} ${shown(dir)}` : `the run folder ${shown(dir)} (give ${flag} to put it elsewhere)`;
  const st = statOrNull(dir);
  if (st && !st.isDirectory()) throw new Error(`${what} is a file, not a folder; give a folder for the run's files`);
  const base = st ? resolve(dir) : existingAncestor(dir);
  const baseStat = statOrNull(base);
  if (!baseStat?.isDirectory()) throw new Error(`${what} cannot be created: ${shown(base)} is a file, not a folder`);
  const why = cannotWriteIn(base);
  if (why) throw new Error(`${what} ${st ? 'is not writable' : `cannot be created in ${shown(base)}`} (${why}); give a folder you can write to`);
}

function checkOut(out: string, runDir: string | undefined): void {
  const st = statOrNull(out);
  if (st?.isDirectory()) throw new Error(`--out ${shown(out)} is a folder; give a file name, e.g. ${shown(join(out, 'model.safetensors'))}`);
  if (st && !st.isFile()) throw new Error(`--out ${shown(out)} exists and is not a regular file (a device, FIFO or socket); give a file path`);
  const parent = dirname(resolve(out));
  // a folder the run creates itself (--out inside --run-dir) is checked with the run folder
  if (runDir !== undefined && inside(runDir, parent)) return;
  const pst = statOrNull(parent);
  if (!pst) throw new Error(`--out ${shown(out)}: the folder ${shown(parent)} does not exist; create it first (mkdir -p ${shown(parent)})`);
  if (!pst.isDirectory()) throw new Error(`--out ${shown(out)}: ${shown(parent)} is not a folder`);
  const why = cannotWriteIn(parent);
  if (why) throw new Error(`--out ${shown(out)}: cannot write in ${shown(parent)} (${why}); give a path you can write to`);
}

/** Throws a one-line error for the first output that would fail or overwrite an input. */
export function checkOutputs(plan: OutputPlan): void {
  const runDir = plan.runDir;
  if (runDir) checkRunDir(runDir.path, runDir.given, runDir.flag);
  if (plan.out !== undefined) checkOut(plan.out, runDir?.path);
  const outputs: PathInput[] = [];
  if (plan.out !== undefined) outputs.push({ flag: '--out', path: plan.out });
  for (const name of runDir ? plan.runFiles ?? [] : []) outputs.push({ flag: `the run folder's ${name}`, path: join(runDir!.path, name) });
  for (const o of outputs) {
    for (const i of plan.inputs) {
      if (!sameFile(o.path, i.path)) continue;
      const r = plan.replaceable;
      if (r && r.flag === i.flag && o.path === join(runDir?.path ?? '', r.file)) continue;
      throw new Error(`${o.flag === '--out' ? `--out ${shown(o.path)}` : `${o.flag} (${shown(o.path)})`} is the same file as ${i.flag} ${shown(i.path)}: writing it would overwrite the input; give another ${o.flag === '--out' ? 'path' : runDir?.flag ?? '--run-dir'}`);
    }
  }
  for (let a = 0; a < outputs.length; a++) {
    for (let b = a + 1; b < outputs.length; b++) {
      if (sameFile(outputs[a]!.path, outputs[b]!.path)) throw new Error(`${outputs[a]!.flag} ${shown(outputs[a]!.path)} is also ${outputs[b]!.flag}; give --out another path`);
    }
  }
}
