// One kernel thread of the WebAssembly backend (plain JavaScript, so Node's
// worker_threads and the browser's Web Workers load it without a build step).
// It instantiates the kernel module on the shared memory, then sleeps on the
// generation word of the control block; each new generation is one job: run
// this thread's share (runThread of assembly/threads.ts: matmul, Adam or the
// Bernoulli log-likelihood), decrement the pending count, wake the caller at zero.
// The control layout is CTRL in src/wasm/pool.ts.
const GEN = 0;
const PENDING = 1;
const DESC = 2;
const NTHREADS = 3;
const STOP = 4;
const ERROR = 5;

/**
 * @param {{ module: WebAssembly.Module, memory: WebAssembly.Memory, ctrl: SharedArrayBuffer, tid: number, gen: number }} init
 * @param {(message: unknown) => void} post
 */
export async function serveKernelThread(init, post) {
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const kernels = instance.exports;
  const ctrl = new Int32Array(init.ctrl);
  const tid = init.tid;
  let gen = init.gen;
  post({ ready: tid });
  for (;;) {
    // bounded, then re-checked: a notify that was missed costs one slice, not the run
    Atomics.wait(ctrl, GEN, gen, 1000);
    const next = Atomics.load(ctrl, GEN);
    if (next === gen) continue;
    gen = next;
    if (Atomics.load(ctrl, STOP) !== 0) return;
    const nthreads = Atomics.load(ctrl, NTHREADS);
    if (tid >= nthreads) continue;
    try {
      kernels.runThread(Atomics.load(ctrl, DESC), tid, nthreads);
    } catch (e) {
      Atomics.store(ctrl, ERROR, 1);
      post({ error: `thread ${tid}: ${e instanceof Error ? e.message : String(e)}` });
    }
    if (Atomics.sub(ctrl, PENDING, 1) === 1) Atomics.notify(ctrl, PENDING);
  }
}
