// Backend selection in the browser, the counterpart of src/node/backend.ts.
// 'auto' takes a hardware WebGPU adapter; when the only adapter is a software
// one (isFallbackAdapter, SwiftShader, llvmpipe, ...) or none answers it uses
// the CPU backend and says why: in Chromium on a 2-core machine the classic VAE
// trained at 581 samples/s on SwiftShader and 3,318 on the CPU backend. The CPU
// backend is the WebAssembly SIMD one (Web Worker threads when the page is
// cross-origin isolated), the TypeScript reference kernels only where
// WebAssembly SIMD cannot start.
import '../gpu/shaders.browser.ts';
import type { AdapterDescription, Backend } from '../backend.ts';
import { CpuBackend } from '../cpu/backend.ts';
import { WebGpuBackend } from '../gpu/backend.ts';
import { acquireBrowserDevice } from '../gpu/browser.ts';
import { NoAdapterError, adapterName, type GpuDevice } from '../gpu/device.ts';
import { createWasmBackend } from '../wasm/browser.ts';

/** 'auto': a hardware GPU, else the CPU; 'webgpu': any adapter; 'cpu': the WebAssembly SIMD backend. */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';
/** Every {@link BackendChoice}, for parsing a page's setting. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'cpu'];

/** A backend with the reason it is the CPU where WebGPU was asked for or considered. */
export interface OpenedBackend {
  backend: Backend;
  /** why the CPU backend is used where WebGPU was asked for or considered; null when nothing to say */
  fallbackNotice: string | null;
  /** 'software': auto chose the CPU over a software adapter; 'unavailable': WebGPU did not start */
  fallback: 'software' | 'unavailable' | null;
}

/** How {@link createBackend} chooses in the browser. */
export interface BrowserBackendOptions {
  /** 'auto' (default): a hardware GPU, else the CPU; 'webgpu': any adapter, or an error; 'cpu' */
  backend?: BackendChoice;
  /** CPU backend threads including the caller (default: navigator.hardwareConcurrency, at most 8) */
  threads?: number;
  /** where the fallback notice goes (default: console.warn) */
  log?: (message: string) => void;
}

/** Whether this page has the WebGPU API at all (navigator.gpu). */
export function hasWebGpuApi(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && Boolean(navigator.gpu);
}

let wasmFailure: string | null = null;

/** The WebAssembly SIMD backend, or the TypeScript kernels (with the reason) where it cannot start. */
export async function openCpuBackend(threads?: number): Promise<Backend> {
  if (wasmFailure === null) {
    try {
      return await createWasmBackend(threads === undefined ? {} : { threads });
    } catch (e) {
      wasmFailure = (e as Error).message;
      console.warn(`WebAssembly SIMD backend unavailable, using the TypeScript kernels: ${wasmFailure}`);
    }
  }
  return new CpuBackend();
}

/** A software rasteriser rather than a GPU (the adapter's profile, src/gpu/device.ts). */
export function isSoftware(a: AdapterDescription): boolean {
  return a.software;
}

/**
 * The backend for a choice, falling back to the CPU (with a notice) where WebGPU
 * is missing or only software; `forceHint` ends the notice by saying how to
 * use the adapter anyway (a page names its own control).
 */
export async function openBackend(choice: BackendChoice, opts: { threads?: number; forceHint?: string } = {}): Promise<OpenedBackend> {
  const { threads } = opts;
  if (choice === 'cpu') return { backend: await openCpuBackend(threads), fallbackNotice: null, fallback: null };
  let gd: GpuDevice;
  try {
    gd = await acquireBrowserDevice();
  } catch (e) {
    // NoAdapterError says why; any other failure (requestDevice refused) is reported the same way
    return { backend: await openCpuBackend(threads), fallbackNotice: `WebGPU unavailable: ${(e as Error).message}`, fallback: 'unavailable' };
  }
  if (choice === 'auto' && isSoftware(gd.adapter)) {
    const name = adapterName(gd.adapter);
    gd.destroy();
    return {
      backend: await openCpuBackend(threads),
      fallback: 'software',
      fallbackNotice: `The only WebGPU adapter here is a software one (${name}), slower than the CPU backend ` +
        '(classic VAE in Chromium on 2 cores: 581 samples/s on SwiftShader, 3,318 on the CPU backend), so the CPU backend is used. ' +
        (opts.forceHint ?? "Pass backend: 'webgpu' to use the adapter anyway."),
    };
  }
  return { backend: new WebGpuBackend(gd), fallbackNotice: null, fallback: null };
}

/**
 * The library's browser backend: `cpu`; `webgpu` (any adapter, else the
 * error saying why); `auto` (a hardware GPU, else the CPU with the notice sent
 * to `log`).
 */
export async function createBackend(opts: BrowserBackendOptions = {}): Promise<Backend> {
  const choice = opts.backend ?? 'auto';
  if (choice === 'webgpu') {
    try {
      return new WebGpuBackend(await acquireBrowserDevice());
    } catch (e) {
      if (!(e instanceof NoAdapterError)) throw e;
      throw new NoAdapterError(`${e.message.replace(/; running on the CPU backend$/, '')}; backend 'auto' or 'cpu' runs on the CPU`);
    }
  }
  const opened = await openBackend(choice, { threads: opts.threads });
  if (opened.fallbackNotice) (opts.log ?? console.warn)(opened.fallbackNotice);
  return opened.backend;
}
