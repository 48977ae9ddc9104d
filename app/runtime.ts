// Backend acquisition in the page: the library's choice (src/browser/backend.ts:
// 'auto' takes a hardware adapter, else the CPU backend with a notice; 'webgpu'
// forces any adapter) plus the page's URL choice, labels and device-loss handling.
import {
  BACKEND_CHOICES, WebGpuBackend, adapterName, openBackend as openLibraryBackend,
  type Backend, type BackendChoice, type OpenedBackend,
} from '../src/browser.ts';

export { BACKEND_CHOICES, backendDetails, hasWebGpuApi, openCpuBackend, type BackendChoice, type OpenedBackend } from '../src/browser.ts';

/** The library's browser backend choice (src/browser/backend.ts), its notice naming the page's controls. */
export function openBackend(choice: BackendChoice): Promise<OpenedBackend> {
  return openLibraryBackend(choice, { forceHint: 'Choose WebGPU under Backend (or open the page with ?backend=webgpu) to use the adapter anyway.' });
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
  return { name: `WebGPU: ${adapterName(a)}`, software: a.software };
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
