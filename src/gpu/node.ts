// WebGPU in Node through Dawn (npm package `webgpu`). Adapter recipes are the
// verified ones of DESIGN.md §3: a real GPU through its Vulkan driver, Vulkan
// SwiftShader from Debian's chromium, or Mesa llvmpipe through OpenGL.
import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { ADAPTER_CHOICES, NoAdapterError, isSoftwareAdapter, openDevice, type AdapterChoice, type GpuDevice } from './device.ts';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let globalsInstalled = false;
function installGlobals(): void {
  if (globalsInstalled) return;
  // GPUBufferUsage, GPUShaderStage, ... as in a browser
  Object.assign(globalThis, globals);
  globalsInstalled = true;
}

export function adapterChoiceFromEnv(fallback: AdapterChoice = 'auto'): AdapterChoice {
  const v = (process.env.LATENTGPU_ADAPTER ?? '').trim().toLowerCase();
  if (!v) return fallback;
  if (!(ADAPTER_CHOICES as readonly string[]).includes(v)) {
    throw new Error(`LATENTGPU_ADAPTER='${v}' is not one of ${ADAPTER_CHOICES.join(', ')}`);
  }
  return v as AdapterChoice;
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

type Attempt = { device: GpuDevice } | { why: string };

/**
 * Dawn instances that own live devices. An instance collected while its device
 * is in use crashes the adapter's worker threads, so each stays referenced
 * until its device is destroyed (then the process may exit: node-webgpu issue 17).
 */
const liveInstances = new Set<unknown>();
function keep(instance: unknown): () => void {
  liveInstances.add(instance);
  return () => liveInstances.delete(instance);
}

async function tryChoice(choice: Exclude<AdapterChoice, 'auto'>): Promise<Attempt> {
  installGlobals();
  // Mesa and the Vulkan loader complain without it; harmless otherwise
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  if (choice === 'gpu') {
    const gpu: GPU | null = create([]) as unknown as GPU;
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { why: 'no Vulkan GPU driver answered' };
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    if (info.isFallbackAdapter || isSoftwareAdapter(info)) return { why: `only a software adapter (${info.description || info.vendor}) answered` };
    return { device: await openDevice(adapter, 'gpu', 'core', keep(gpu)) };
  }
  if (choice === 'swiftshader') {
    if (!existsSync(SWIFTSHADER_ICD)) return { why: `${SWIFTSHADER_ICD} is missing (apt-get install chromium libvulkan1)` };
    return withEnv({ VK_ICD_FILENAMES: SWIFTSHADER_ICD }, async () => {
      const gpu = create([]) as unknown as GPU;
      const adapter = await gpu.requestAdapter();
      if (!adapter) return { why: 'SwiftShader did not answer (is libvulkan1 installed?)' };
      return { device: await openDevice(adapter, 'swiftshader', 'core', keep(gpu)) };
    });
  }
  return withEnv({ EGL_PLATFORM: 'surfaceless' }, async () => {
    const gpu = create(['backend=opengl']) as unknown as GPU;
    const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (!adapter) return { why: 'Mesa llvmpipe did not answer (apt-get install libegl1 libegl-mesa0 libgles2)' };
    return { device: await openDevice(adapter, 'llvmpipe', 'compatibility', keep(gpu)) };
  });
}

/**
 * A ready WebGPU device in Node. `auto` prefers a real GPU, then llvmpipe, then
 * SwiftShader: of the two software adapters llvmpipe trains the VAE 5–10× faster
 * here (bench/results/2026-12-01-vm.md), so it goes first when both are installed.
 * Throws NoAdapterError (saying how to get one) when none answers.
 */
export async function acquireNodeDevice(choice: AdapterChoice = adapterChoiceFromEnv()): Promise<GpuDevice> {
  const order: Exclude<AdapterChoice, 'auto'>[] = choice === 'auto' ? ['gpu', 'llvmpipe', 'swiftshader'] : [choice];
  const why: string[] = [];
  for (const c of order) {
    let r: Attempt;
    try {
      r = await tryChoice(c);
    } catch (e) {
      r = { why: (e as Error).message };
    }
    if ('device' in r) return r.device;
    why.push(`${c}: ${r.why}`);
  }
  throw new NoAdapterError(
    `no WebGPU adapter (${why.join('; ')}). On Debian: apt-get install chromium libvulkan1 ` +
      `(SwiftShader) or libegl1 libegl-mesa0 libgles2 (llvmpipe); or use --backend cpu.`,
  );
}
