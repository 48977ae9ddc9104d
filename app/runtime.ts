// Backend acquisition in the browser. 'auto' (the default) takes a hardware
// WebGPU adapter; when the only adapter is a software one (isFallbackAdapter,
// SwiftShader, llvmpipe, ...) or none answers it uses the CPU backend and says
// why: in Chromium on a 2-core machine the classic VAE trained at 581
// samples/s on SwiftShader and 3,318 on the CPU backend. 'webgpu' forces any
// adapter. The CPU backend is the WebAssembly SIMD one (Web Workers when the
// page is cross-origin isolated, see vite.config.ts); the TypeScript reference
// kernels only where WebAssembly SIMD cannot start.
import './shaders.browser.ts';
import type { AdapterDescription, Backend } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { WebGpuBackend } from '../src/gpu/backend.ts';
import { acquireBrowserDevice } from '../src/gpu/browser.ts';
import { adapterName, isSoftwareAdapter, type GpuDevice } from '../src/gpu/device.ts';
import { createWasmBackend } from '../src/wasm/browser.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'cpu'];

export interface OpenedBackend {
  backend: Backend;
  /** why the CPU backend is used where WebGPU was asked for or considered; null when nothing to say */
  fallbackNotice: string | null;
  /** 'software': auto chose the CPU over a software adapter; 'unavailable': WebGPU did not start */
  fallback: 'software' | 'unavailable' | null;
}

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

/** A software rasteriser rather than a GPU: the adapter says it is a fallback, or its name is SwiftShader, llvmpipe, ... */
function isSoftware(a: AdapterDescription): boolean {
  return a.isFallbackAdapter || isSoftwareAdapter(a);
}

export async function openBackend(choice: BackendChoice): Promise<OpenedBackend> {
  if (choice === 'cpu') return { backend: await openCpuBackend(), fallbackNotice: null, fallback: null };
  let gd: GpuDevice;
  try {
    gd = await acquireBrowserDevice();
  } catch (e) {
    // NoAdapterError says why; any other failure (requestDevice refused) is reported the same way
    return { backend: await openCpuBackend(), fallbackNotice: `WebGPU unavailable: ${(e as Error).message}`, fallback: 'unavailable' };
  }
  if (choice === 'auto' && isSoftware(gd.adapter)) {
    const name = adapterName(gd.adapter);
    gd.destroy();
    return {
      backend: await openCpuBackend(),
      fallback: 'software',
      fallbackNotice: `The only WebGPU adapter here is a software one (${name}), slower than the CPU backend ` +
        '(classic VAE in Chromium on 2 cores: 581 samples/s on SwiftShader, 3,318 on the CPU backend), so the CPU backend is used. ' +
        'Choose WebGPU under Backend (or open the page with ?backend=webgpu) to use the adapter anyway.',
    };
  }
  return { backend: new WebGpuBackend(gd), fallbackNotice: null, fallback: null };
}

/** The backend asked for by the page's URL (?backend=auto|webgpu|cpu), else null. */
export function backendFromUrl(search: string): BackendChoice | null {
  const v = new URLSearchParams(search).get('backend');
  if (v === null) return null;
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  console.warn(`?backend=${v} is not one of ${BACKEND_CHOICES.join(', ')}; choosing automatically`);
  return null;
}

/** "SwiftShader (fallback adapter)" or "CPU backend" */
export function backendLabel(b: Backend): { name: string; software: boolean } {
  if (b.info.backend === 'cpu') {
    // "cpu (WebAssembly SIMD, 2 threads, Web Workers, FMA)" → "CPU backend (WebAssembly SIMD, 2 threads, Web Workers, FMA)"
    return { name: b.info.summary.replace(/^cpu\b/, 'CPU backend'), software: true };
  }
  const a = b.info.adapter!;
  return { name: `WebGPU: ${adapterName(a)}`, software: isSoftware(a) };
}

export class DeviceLostError extends Error {}

function lostMessage(info: { reason: string; message: string }): string {
  return `The WebGPU device was lost (${info.reason}: ${info.message || 'no message'})`;
}

/**
 * `p`, or a DeviceLostError as soon as the backend's device is lost: on a lost
 * device a read-back (mapAsync) or queue wait may never settle, and the page
 * must not wait on it forever. The CPU backends pass `p` through.
 */
export function untilLost<T>(b: Backend | null, p: Promise<T>): Promise<T> {
  if (!(b instanceof WebGpuBackend)) return p;
  return Promise.race([p, b.device.lost.then((info) => { throw new DeviceLostError(lostMessage({ reason: String(info.reason), message: info.message })); })]);
}

/** Calls `f` once if the backend's device is lost (not when it is destroyed by `destroy()` of ours: the caller checks). */
export function onDeviceLost(b: Backend, f: (text: string) => void): void {
  if (b instanceof WebGpuBackend) void b.device.lost.then((info) => f(lostMessage({ reason: String(info.reason), message: info.message })));
}

/** The device-lost state of a WebGPU backend, null when healthy or on the CPU. */
export function deviceLost(b: Backend): { reason: string; message: string } | null {
  return b instanceof WebGpuBackend ? b.gpu.lost : null;
}

/** Lets the browser paint and handle input between units of work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}
