// The WebAssembly backend in Node: the kernel module (src/wasm/kernels-*.wasm)
// on a shared memory, with worker_threads for matmul (one thread per core by
// default); without SharedArrayBuffer it runs the single-thread build.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { WasmBackend, type WasmKernelExports } from './backend.ts';
import { startThreadPool, type ThreadHandle, type ThreadInit } from './pool.ts';

export interface WasmBackendNodeOptions {
  /** threads including the caller; default: the number of cores */
  threads?: number;
  /** multiply-adds from which matmul is split over the threads */
  threadThreshold?: number;
  /** elements from which Adam and the Bernoulli log-likelihood (+backward) are split over the threads */
  elementThreshold?: number;
  /** false: the single-thread build on an unshared memory (what a browser without cross-origin isolation gets) */
  shared?: boolean;
  /** false: the plain-SIMD build even where relaxed SIMD (FMA) is available */
  fma?: boolean;
}

const INITIAL_PAGES = 256; // 16 MiB
const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit

const moduleCache = new Map<string, WebAssembly.Module>();
let relaxedSimd: boolean | null = null;

function wasmBytes(file: string): Uint8Array<ArrayBuffer> {
  const b = readFileSync(new URL(`./${file}`, import.meta.url));
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
}

/**
 * Whether the engine takes the relaxed-SIMD (FMA) build. Node 20's V8 ships
 * relaxed SIMD behind a flag (on by default from V8 11.4, Node 22); turning
 * that flag on changes nothing else.
 */
function relaxedSimdAvailable(): boolean {
  if (relaxedSimd === null) {
    const probe = wasmBytes('kernels-st-fma.wasm');
    relaxedSimd = WebAssembly.validate(probe);
    if (!relaxedSimd) {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      relaxedSimd = WebAssembly.validate(probe);
    }
  }
  return relaxedSimd;
}

function kernelModule(shared: boolean, fma: boolean): WebAssembly.Module {
  const file = `kernels-${shared ? 'mt' : 'st'}${fma ? '-fma' : ''}.wasm`;
  let m = moduleCache.get(file);
  if (!m) {
    m = new WebAssembly.Module(wasmBytes(file));
    moduleCache.set(file, m);
  }
  return m;
}

function startNodeThread(init: ThreadInit, onError: (message: string) => void): Promise<ThreadHandle> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.node.js', import.meta.url), { workerData: init });
    let ready = false;
    worker.on('message', (m: { ready?: number; error?: string }) => {
      if (m.error !== undefined) {
        onError(m.error);
        if (!ready) reject(new Error(`WebAssembly thread ${init.tid} failed to start: ${m.error}`));
      } else if (m.ready !== undefined && !ready) {
        ready = true;
        // an idle pool must not keep the process alive (but a starting one must)
        worker.unref();
        resolve(worker);
      }
    });
    worker.on('error', (e) => {
      onError(String(e));
      if (!ready) reject(e);
    });
  });
}

/** The WebAssembly SIMD backend for Node. */
export async function createWasmBackend(opts: WasmBackendNodeOptions = {}): Promise<WasmBackend> {
  const threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
  const fma = opts.fma !== false && relaxedSimdAvailable();
  const fmaNote = fma ? ', FMA' : '';
  if (opts.shared !== false && typeof SharedArrayBuffer === 'function') {
    const module = kernelModule(true, fma);
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const pool = threads > 1 ? await startThreadPool(module, memory, threads, startNodeThread) : null;
    return new WasmBackend({
      memory, exports: instance.exports as unknown as WasmKernelExports, maxPages: MAX_PAGES, pool,
      threadThreshold: opts.threadThreshold, elementThreshold: opts.elementThreshold, where: `${pool ? 'Node worker_threads' : 'shared memory'}${fmaNote}`,
    });
  }
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES });
  const instance = new WebAssembly.Instance(kernelModule(false, fma), { env: { memory } });
  return new WasmBackend({
    memory, exports: instance.exports as unknown as WasmKernelExports, maxPages: MAX_PAGES,
    where: `no SharedArrayBuffer${fmaNote}`,
  });
}
