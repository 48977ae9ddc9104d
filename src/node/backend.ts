// Backend selection in Node: `auto` takes WebGPU on a hardware GPU, else the
// WebAssembly CPU backend (faster than a software adapter) with one line saying why.
import '../gpu/shaders.node.ts';
import { KernelError, type Backend } from '../backend.ts';
import { CpuBackend } from '../cpu/backend.ts';
import { WebGpuBackend } from '../gpu/backend.ts';
import { NoAdapterError, type AdapterChoice, type GpuDevice } from '../gpu/device.ts';
import { acquireNodeDevice, adapterChoiceFromEnv, probeAuto, type AutoProbe } from '../gpu/node.ts';
import { tuneMatmul } from '../gpu/ops/matmul.ts';
import { fileMatmulStore } from './matmulStore.ts';
import { createWasmBackend } from '../wasm/node.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

export interface BackendOptions {
  backend?: BackendChoice;
  adapter?: AdapterChoice;
  /** where the fallback notice goes (default: stderr) */
  log?: (message: string) => void;
  /** `auto`'s adapter search (tests inject one): default probeAuto */
  probe?: () => Promise<AutoProbe>;
}

/**
 * A WebGPU backend on the chosen adapter. Unless `tune` is false, the matmul
 * variant for this adapter is chosen by measurement once per machine (a few
 * seconds on the software adapters) and read from ~/.cache/latentgpu afterwards.
 */
export async function createWebGpuBackend(adapter: AdapterChoice = adapterChoiceFromEnv(), opts: { tune?: boolean } = {}): Promise<WebGpuBackend> {
  return webGpuOn(await acquireNodeDevice(adapter), opts);
}

async function webGpuOn(device: GpuDevice, opts: { tune?: boolean } = {}): Promise<WebGpuBackend> {
  const gpu = new WebGpuBackend(device);
  if (opts.tune ?? true) await tuneMatmul(gpu, { store: fileMatmulStore() });
  return gpu;
}

/**
 * The CPU backend: WebAssembly SIMD kernels (src/wasm) on every core (or on
 * LATENTGPU_CPU_THREADS of them), or the TypeScript references when WebAssembly
 * cannot load or LATENTGPU_CPU=reference.
 */
export async function createCpuBackend(log: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<Backend> {
  if (process.env.LATENTGPU_CPU === 'reference') return new CpuBackend();
  const threads = process.env.LATENTGPU_CPU_THREADS;
  if (threads !== undefined && !(Number.isInteger(Number(threads)) && Number(threads) >= 1)) {
    throw new KernelError('cpu backend', `LATENTGPU_CPU_THREADS must be a whole number ≥ 1, not '${threads}'`);
  }
  try {
    return await createWasmBackend(threads === undefined ? {} : { threads: Number(threads) });
  } catch (e) {
    log(`latentgpu: the WebAssembly CPU backend did not load (${e instanceof Error ? e.message : String(e)}); using the TypeScript reference kernels.`);
    return new CpuBackend();
  }
}

/**
 * `--backend cpu`: the CPU. `--backend webgpu`: the adapter asked for (`auto`: a
 * hardware GPU, then llvmpipe, then SwiftShader), or an error. `--backend auto`
 * with an adapter named: that adapter, else the CPU with a notice. `auto` with
 * `auto`: a hardware GPU, else the CPU, in one line naming the software adapter
 * it passed over and how to force it.
 */
export async function createBackend(opts: BackendOptions = {}): Promise<Backend> {
  const choice = opts.backend ?? 'auto';
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  if (choice === 'cpu') return createCpuBackend(log);
  const adapter = opts.adapter ?? adapterChoiceFromEnv();
  if (choice === 'auto' && adapter === 'auto') {
    const found = await (opts.probe ?? probeAuto)();
    if ('device' in found) return webGpuOn(found.device);
    log(autoCpuNotice(found));
    return createCpuBackend(log);
  }
  try {
    return await createWebGpuBackend(adapter);
  } catch (e) {
    if (choice === 'webgpu' || !(e instanceof NoAdapterError)) throw e;
    log(`latentgpu: ${e.message} Falling back to the CPU backend.`);
    return createCpuBackend(log);
  }
}

/** The one line `auto` prints when it trains on the CPU. */
export function autoCpuNotice(found: Exclude<AutoProbe, { device: GpuDevice }>): string {
  if (!found.software) return `latentgpu: no WebGPU adapter here (${found.why}); using the CPU backend.`;
  const force = found.software.choice === 'gpu' ? '--backend webgpu' : `--adapter ${found.software.choice} or --backend webgpu`;
  return `latentgpu: no hardware GPU, only the software adapter ${found.software.name}, slower than the CPU backend, which runs instead (${force} forces the adapter).`;
}
