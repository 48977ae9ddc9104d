// Backend acquisition in the browser: WebGPU through navigator.gpu when an
// adapter answers, else the CPU backend with a notice saying why.
import './shaders.browser.ts';
import type { Backend } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { WebGpuBackend } from '../src/gpu/backend.ts';
import { acquireBrowserDevice } from '../src/gpu/browser.ts';
import { adapterName } from '../src/gpu/device.ts';

export type BackendChoice = 'webgpu' | 'cpu';

export interface OpenedBackend {
  backend: Backend;
  /** why WebGPU was asked for and the CPU is used instead; null when nothing fell back */
  fallbackNotice: string | null;
}

export function hasWebGpuApi(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && Boolean(navigator.gpu);
}

export async function openBackend(choice: BackendChoice): Promise<OpenedBackend> {
  if (choice === 'cpu') return { backend: new CpuBackend(), fallbackNotice: null };
  try {
    return { backend: new WebGpuBackend(await acquireBrowserDevice()), fallbackNotice: null };
  } catch (e) {
    // NoAdapterError says why; any other failure (requestDevice refused) is reported the same way
    return { backend: new CpuBackend(), fallbackNotice: `WebGPU unavailable: ${(e as Error).message}` };
  }
}

/** "SwiftShader (fallback adapter)" or "CPU backend" */
export function backendLabel(b: Backend): { name: string; software: boolean } {
  if (b.info.backend === 'cpu') return { name: 'CPU backend (TypeScript kernels)', software: true };
  const a = b.info.adapter!;
  return { name: `WebGPU: ${adapterName(a)}`, software: a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(adapterName(a)) };
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
