// Backend acquisition in the browser: WebGPU through navigator.gpu when an
// adapter answers, else the CPU backend with a notice saying why. The CPU
// backend is the WebAssembly SIMD one (Web Workers when the page is
// cross-origin isolated, see vite.config.ts); the TypeScript reference kernels
// only where WebAssembly SIMD cannot start.
import './shaders.browser.ts';
import type { Backend } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { WebGpuBackend } from '../src/gpu/backend.ts';
import { acquireBrowserDevice } from '../src/gpu/browser.ts';
import { adapterName } from '../src/gpu/device.ts';
import { createWasmBackend } from '../src/wasm/browser.ts';

export type BackendChoice = 'webgpu' | 'cpu';

export interface OpenedBackend {
  backend: Backend;
  /** why WebGPU was asked for and the CPU is used instead; null when nothing fell back */
  fallbackNotice: string | null;
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

export async function openBackend(choice: BackendChoice): Promise<OpenedBackend> {
  if (choice === 'cpu') return { backend: await openCpuBackend(), fallbackNotice: null };
  try {
    return { backend: new WebGpuBackend(await acquireBrowserDevice()), fallbackNotice: null };
  } catch (e) {
    // NoAdapterError says why; any other failure (requestDevice refused) is reported the same way
    return { backend: await openCpuBackend(), fallbackNotice: `WebGPU unavailable: ${(e as Error).message}` };
  }
}

/** "SwiftShader (fallback adapter)" or "CPU backend" */
export function backendLabel(b: Backend): { name: string; software: boolean } {
  if (b.info.backend === 'cpu') {
    // "cpu (WebAssembly SIMD, 2 threads, Web Workers, FMA)" → "CPU backend (WebAssembly SIMD, 2 threads, Web Workers, FMA)"
    return { name: b.info.summary.replace(/^cpu\b/, 'CPU backend'), software: true };
  }
  const a = b.info.adapter!;
  return { name: `WebGPU: ${adapterName(a)}`, software: a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(adapterName(a)) };
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
