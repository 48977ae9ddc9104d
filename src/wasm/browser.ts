// The WebAssembly backend in the browser (bundled by Vite: the .wasm files and
// the worker are emitted as assets).
//
// Threads need SharedArrayBuffer, which browsers grant only to cross-origin
// isolated pages: the server must send
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp
// (in vite.config.ts: server.headers and preview.headers). Without them
// `crossOriginIsolated` is false and this falls back to the single-thread build
// on an unshared memory: same kernels, same results, one core.
import { WasmBackend, type WasmKernelExports } from './backend.ts';
import { startThreadPool, type ThreadHandle, type ThreadInit } from './pool.ts';

// new URL(…, import.meta.url): bundlers emit the files as assets, also from the published package
const mtUrl = new URL('./kernels-mt.wasm', import.meta.url).href;
const mtFmaUrl = new URL('./kernels-mt-fma.wasm', import.meta.url).href;
const stUrl = new URL('./kernels-st.wasm', import.meta.url).href;
const stFmaUrl = new URL('./kernels-st-fma.wasm', import.meta.url).href;

export interface WasmBackendBrowserOptions {
  /** threads including the caller; default navigator.hardwareConcurrency (capped at 8) */
  threads?: number;
  threadThreshold?: number;
}

const INITIAL_PAGES = 256;
/** 2 GiB: a shared memory reserves its maximum up front, so stay modest in a tab */
const MAX_PAGES = 32768;

/** Whether this page may use SharedArrayBuffer (and so worker threads). */
export function wasmThreadsAvailable(): boolean {
  return typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated === true;
}

async function fetchBytes(url: string): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The relaxed-SIMD (FMA) build where the engine validates it (Chrome ≥ 114), else plain SIMD. */
async function kernelModule(threads: boolean): Promise<{ module: WebAssembly.Module; fma: boolean }> {
  const fmaBytes = await fetchBytes(threads ? mtFmaUrl : stFmaUrl);
  if (WebAssembly.validate(fmaBytes)) return { module: await WebAssembly.compile(fmaBytes), fma: true };
  return { module: await WebAssembly.compile(await fetchBytes(threads ? mtUrl : stUrl)), fma: false };
}

function startBrowserThread(init: ThreadInit, onError: (message: string) => void): Promise<ThreadHandle> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.browser.js', import.meta.url), { type: 'module' });
    let ready = false;
    worker.onmessage = (ev: MessageEvent<{ ready?: number; error?: string }>) => {
      if (ev.data.error !== undefined) {
        onError(ev.data.error);
        if (!ready) reject(new Error(`WebAssembly thread ${init.tid} failed to start: ${ev.data.error}`));
      } else if (ev.data.ready !== undefined && !ready) {
        ready = true;
        resolve(worker);
      }
    };
    worker.onerror = (ev) => {
      onError(ev.message);
      if (!ready) reject(new Error(`WebAssembly thread ${init.tid}: ${ev.message}`));
    };
    worker.postMessage(init);
  });
}

/** The WebAssembly SIMD backend for the browser (threads when cross-origin isolated). */
export async function createWasmBackend(opts: WasmBackendBrowserOptions = {}): Promise<WasmBackend> {
  const shared = wasmThreadsAvailable();
  const { module, fma } = await kernelModule(shared);
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as WasmKernelExports;
  const threads = shared ? Math.max(1, Math.floor(opts.threads ?? Math.min(8, navigator.hardwareConcurrency || 1))) : 1;
  const pool = threads > 1 ? await startThreadPool(module, memory, threads, startBrowserThread) : null;
  const where = `${pool ? 'Web Workers' : shared ? 'shared memory' : 'not cross-origin isolated'}${fma ? ', FMA' : ''}`;
  return new WasmBackend({ memory, exports, maxPages: MAX_PAGES, pool, threadThreshold: opts.threadThreshold, where });
}
