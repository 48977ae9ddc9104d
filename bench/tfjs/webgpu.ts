// TensorFlow.js 4.22's WebGPU backend in Node, on the same Dawn adapters latentgpu
// uses (src/gpu/node.ts): the backend registers itself only when navigator.gpu
// exists at import time, so the Dawn instance is installed as navigator.gpu first.
// llvmpipe needs requestAdapter({featureLevel: 'compatibility'}), which TF.js
// does not pass: requestAdapter is wrapped to add it.
import { create, globals } from 'webgpu';
import { SWIFTSHADER_ICD } from '../../src/lib/kernels.node.ts';

export type TfjsAdapter = 'swiftshader' | 'llvmpipe' | 'gpu';
export type Tf = typeof import('@tensorflow/tfjs-core');

export interface TfjsWebGpu {
  tf: Tf;
  /** adapter.info as TF.js's device got it */
  adapter: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean };
}

/** Loads TF.js with its WebGPU backend bound to one adapter. Call once per process. */
export async function loadTfjsWebGpu(choice: TfjsAdapter): Promise<TfjsWebGpu> {
  Object.assign(globalThis, globals);
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let gpu: GPU;
  let extra: Record<string, unknown> = {};
  if (choice === 'swiftshader') {
    // the ICD variable is read when the instance enumerates adapters: keep it set for this process
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    gpu = create([]) as unknown as GPU;
  } else if (choice === 'llvmpipe') {
    process.env.EGL_PLATFORM = 'surfaceless';
    gpu = create(['backend=opengl']) as unknown as GPU;
    extra = { featureLevel: 'compatibility' };
  } else {
    gpu = create([]) as unknown as GPU;
  }
  const seen: TfjsWebGpu['adapter'][] = [];
  const wrapped = {
    requestAdapter: async (opts?: GPURequestAdapterOptions) => {
      const a = await gpu.requestAdapter({ ...opts, ...extra } as GPURequestAdapterOptions);
      if (!a) throw new Error(`TF.js: no ${choice} WebGPU adapter answered`);
      const info = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
      seen.push({ vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, isFallbackAdapter: !!info.isFallbackAdapter });
      return a;
    },
    getPreferredCanvasFormat: () => 'rgba8unorm',
    wgslLanguageFeatures: (gpu as unknown as { wgslLanguageFeatures?: unknown }).wgslLanguageFeatures ?? new Set(),
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: wrapped }, configurable: true, writable: true });
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error(`TF.js: the WebGPU backend did not start on ${choice}`);
  await tf.ready();
  // keep the instance referenced while TF.js's device lives (src/gpu/node.ts: a collected instance crashes its device)
  (globalThis as unknown as { __tfjsDawn?: unknown }).__tfjsDawn = gpu;
  const adapter = seen[0];
  if (!adapter) throw new Error('TF.js: the WebGPU backend started without requesting an adapter');
  if (choice === 'gpu' && adapter.isFallbackAdapter) throw new Error(`TF.js: only a fallback adapter (${adapter.description}) answered`);
  return { tf, adapter };
}
