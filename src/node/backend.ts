// Backend selection in Node: WebGPU through Dawn when an adapter answers, else
// (for `auto`) the CPU backend with a clear message saying why.
import '../gpu/shaders.node.ts';
import type { Backend } from '../backend.ts';
import { CpuBackend } from '../cpu/backend.ts';
import { WebGpuBackend } from '../gpu/backend.ts';
import { NoAdapterError, type AdapterChoice } from '../gpu/device.ts';
import { acquireNodeDevice, adapterChoiceFromEnv } from '../gpu/node.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

export interface BackendOptions {
  backend?: BackendChoice;
  adapter?: AdapterChoice;
  /** where the fallback notice goes (default: stderr) */
  log?: (message: string) => void;
}

export async function createWebGpuBackend(adapter: AdapterChoice = adapterChoiceFromEnv()): Promise<WebGpuBackend> {
  return new WebGpuBackend(await acquireNodeDevice(adapter));
}

export async function createBackend(opts: BackendOptions = {}): Promise<Backend> {
  const choice = opts.backend ?? 'auto';
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  if (choice === 'cpu') return new CpuBackend();
  try {
    return await createWebGpuBackend(opts.adapter ?? adapterChoiceFromEnv());
  } catch (e) {
    if (choice === 'webgpu' || !(e instanceof NoAdapterError)) throw e;
    log(`latentgpu: ${e.message}\nlatentgpu: falling back to the CPU backend.`);
    return new CpuBackend();
  }
}
