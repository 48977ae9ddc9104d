// The thread pool of the WebAssembly backend, for Node worker_threads and
// browser Web Workers alike. Workers share the kernel memory and a small
// control block (a SharedArrayBuffer of Int32 words); a job is published by
// bumping GEN with Atomics.notify, and the caller, after doing thread 0's share
// itself, sleeps on PENDING until the last worker brings it to zero. Where the
// calling thread may not block (a browser's main thread) it spins instead.
import { KernelError } from '../backend.ts';
import type { ThreadPool } from './backend.ts';

/** Word indices of the control block (mirrored in worker-core.js). */
export const CTRL = { GEN: 0, PENDING: 1, DESC: 2, NTHREADS: 3, STOP: 4, ERROR: 5, WORDS: 16 } as const;

/** What a worker needs to start (the init message). */
export interface ThreadInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  tid: number;
  gen: number;
}

/** A started worker, whichever platform. */
export interface ThreadHandle {
  terminate(): void;
}

/** Starts a worker with `init`; resolves once it reports { ready }, rejects on { error } or exit. */
export type ThreadStarter = (init: ThreadInit, onError: (message: string) => void) => Promise<ThreadHandle>;

/** Longest one wait of the caller on the pending count before it re-checks. */
const WAIT_SLICE_MS = 1000;
/** A thread's share of one kernel call takes milliseconds; minutes mean it is gone. */
const JOB_TIMEOUT_MS = 120_000;

function canBlock(ctrl: Int32Array): boolean {
  try {
    Atomics.wait(ctrl, CTRL.WORDS - 1, 1, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startThreadPool(
  module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number, start: ThreadStarter,
  opts: { jobTimeoutMs?: number } = {},
): Promise<ThreadPool> {
  const jobTimeoutMs = opts.jobTimeoutMs ?? JOB_TIMEOUT_MS;
  const sab = new SharedArrayBuffer(CTRL.WORDS * 4);
  const ctrl = new Int32Array(sab);
  const errors: string[] = [];
  const handles: ThreadHandle[] = [];
  try {
    for (let tid = 1; tid < threads; tid++) {
      handles.push(await start({ module, memory, ctrl: sab, tid, gen: 0 }, (m) => errors.push(m)));
    }
  } catch (e) {
    for (const h of handles) h.terminate();
    throw e;
  }
  const blocking = canBlock(ctrl);
  let destroyed = false;

  return {
    size: threads,
    run(desc: number, nthreads: number, own: () => void, kernel = 'matmul'): void {
      if (destroyed) throw new KernelError(kernel, 'the thread pool was destroyed');
      Atomics.store(ctrl, CTRL.DESC, desc);
      Atomics.store(ctrl, CTRL.NTHREADS, nthreads);
      Atomics.store(ctrl, CTRL.PENDING, nthreads - 1);
      Atomics.add(ctrl, CTRL.GEN, 1);
      Atomics.notify(ctrl, CTRL.GEN);
      let ownError: unknown = null;
      try {
        own();
      } catch (e) {
        ownError = e;
      }
      // The wait is bounded and re-checked: a wake-up that never comes (a worker that
      // died, or a lost notify) must become an error naming the kernel, not a hang.
      const t0 = Date.now();
      for (let left = Atomics.load(ctrl, CTRL.PENDING); left !== 0; left = Atomics.load(ctrl, CTRL.PENDING)) {
        if (blocking) Atomics.wait(ctrl, CTRL.PENDING, left, Math.min(WAIT_SLICE_MS, jobTimeoutMs));
        if (Date.now() - t0 > jobTimeoutMs) {
          throw new KernelError(kernel, `${left} worker thread(s) did not finish a job within ${jobTimeoutMs / 1000} s; LATENTGPU_CPU_THREADS=1 runs the CPU backend without worker threads`);
        }
      }
      if (ownError) throw ownError;
      if (Atomics.load(ctrl, CTRL.ERROR) !== 0) {
        Atomics.store(ctrl, CTRL.ERROR, 0);
        throw new KernelError(kernel, `a worker thread failed: ${errors.splice(0).join('; ') || 'unknown error'}`);
      }
    },
    destroy(): void {
      if (destroyed) return;
      destroyed = true;
      Atomics.store(ctrl, CTRL.STOP, 1);
      Atomics.add(ctrl, CTRL.GEN, 1);
      Atomics.notify(ctrl, CTRL.GEN);
      for (const h of handles) h.terminate();
    },
  };
}
