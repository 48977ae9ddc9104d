// WebGPU in Node through Dawn (npm package `webgpu`). Adapter recipes are the
// verified ones of DESIGN.md §3: a real GPU through its Vulkan driver, Vulkan
// SwiftShader from Debian's chromium, or Mesa llvmpipe through OpenGL.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create, globals } from 'webgpu';
import {
  ADAPTER_CHOICES, NoAdapterError, SOFTWARE_DRIVER, adapterName, describeAdapter, openDevice,
  type AdapterChoice, type AdapterInfoLike, type GpuDevice,
} from './device.ts';

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

/**
 * Runs `fn` with file descriptor 2 pointed at /dev/null. Dawn prints its warnings
 * ("vkCreateInstance: Found no drivers", the OpenGL backend's "… artificially
 * reduced …" limits) with fprintf(stderr) from native code, synchronously inside
 * requestAdapter, where no JavaScript hook reaches them. Node has no dup2, so the
 * descriptor is reopened through /proc (Linux): a terminal, a pipe or a file
 * appended to. Where that cannot be done faithfully (a socket, as a Node parent's
 * stdio pipes are; a file written at an offset), elsewhere than Linux, with
 * LATENTGPU_DEBUG=1, or while stderr has writes queued, `fn` runs as is.
 */
export function withoutDriverChatter<T>(fn: () => T): T {
  if (process.env.LATENTGPU_DEBUG === '1' || process.platform !== 'linux') return fn();
  const handle = (process.stderr as unknown as { _handle?: { writeQueueSize?: number } })._handle;
  if (process.stderr.writableLength > 0 || (handle?.writeQueueSize ?? 0) > 0) return fn();
  let saved: number;
  try {
    // 0 and 1 open: the lowest free descriptor after closing 2 is 2
    fstatSync(0);
    fstatSync(1);
    if (!stderrReopenable()) return fn();
    saved = openSync('/proc/self/fd/2', 'a');
  } catch {
    return fn();
  }
  closeSync(2);
  const quiet = openSync('/dev/null', 'w');
  try {
    return fn();
  } finally {
    closeSync(quiet);
    openSync(`/proc/self/fd/${saved}`, 'a');
    closeSync(saved);
  }
}

/**
 * Whether fd 2 can be reopened without changing where later output lands: a
 * terminal, a pipe, or a file opened for appending (`2>>`). Not a file written at
 * an offset (`2> log`, `> log 2>&1`): the reopened descriptor would keep its own
 * offset while the original, still shared with stdout or the parent shell, keeps
 * another, and one would overwrite the other's lines.
 */
function stderrReopenable(): boolean {
  if (!fstatSync(2).isFile()) return true;
  const flags = Number.parseInt(/flags:\s*(\d+)/.exec(readFileSync('/proc/self/fdinfo/2', 'utf8'))?.[1] ?? '0', 8);
  return (flags & 0o2000) !== 0; // O_APPEND
}

/**
 * Whether a Vulkan driver other than a software one is installed: the loader's
 * ICD manifests (VK_DRIVER_FILES / VK_ICD_FILENAMES, else the vulkan/icd.d
 * folders it searches). Without one there is no hardware GPU for Dawn to find,
 * and asking Dawn only prints "Found no drivers".
 */
export function hardwareVulkanDriverListed(env: Record<string, string | undefined> = process.env, sysconfDirs = ['/etc', '/usr/local/etc']): boolean {
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES) return true;
  const home = env.HOME || homedir();
  const dirs = [
    env.XDG_CONFIG_HOME || join(home, '.config'),
    ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'),
    ...sysconfDirs,
    env.XDG_DATA_HOME || join(home, '.local', 'share'),
    ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':'),
  ].filter(Boolean);
  for (const d of dirs) {
    let names: string[];
    try {
      names = readdirSync(join(d, 'vulkan', 'icd.d'));
    } catch {
      continue;
    }
    if (names.some((n) => n.endsWith('.json') && !SOFTWARE_DRIVER.test(n))) return true;
  }
  return false;
}

/** The outcome of trying one adapter: a device, or why not (and the software adapter that answered instead, if any). */
type Attempt = { device: GpuDevice } | { why: string; software?: string };

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
  const found = await findAdapter(choice);
  if ('why' in found) return found;
  const { gpu, adapter } = found;
  if (choice === 'gpu') {
    const profile = describeAdapter(adapter, 'gpu', 'core');
    if (profile.software) return { why: 'only a software Vulkan adapter answered', software: adapterName(profile) };
  }
  return { device: await openDevice(adapter, choice, choice === 'llvmpipe' ? 'compatibility' : 'core', keep(gpu)) };
}

/** The adapter of one choice (no device yet), its Dawn instance, or why there is none. */
async function findAdapter(choice: Exclude<AdapterChoice, 'auto'>): Promise<{ gpu: GPU; adapter: GPUAdapter } | { why: string }> {
  // create() and the adapter search print Dawn's warnings synchronously: both run without them
  const request = (flags: string[], options?: GPURequestAdapterOptions) => withoutDriverChatter(() => {
    const gpu = create(flags) as unknown as GPU;
    return { gpu, pending: gpu.requestAdapter(options) };
  });
  if (choice === 'gpu') {
    if (!hardwareVulkanDriverListed()) return { why: 'no Vulkan GPU driver is installed' };
    const { gpu, pending } = request([], { powerPreference: 'high-performance' });
    const adapter = await pending;
    return adapter ? { gpu, adapter } : { why: 'no Vulkan GPU driver answered' };
  }
  if (choice === 'swiftshader') {
    if (!existsSync(SWIFTSHADER_ICD)) return { why: `${SWIFTSHADER_ICD} is missing (apt-get install chromium libvulkan1)` };
    return withEnv({ VK_ICD_FILENAMES: SWIFTSHADER_ICD }, async () => {
      const { gpu, pending } = request([]);
      const adapter = await pending;
      return adapter ? { gpu, adapter } : { why: 'SwiftShader did not answer (is libvulkan1 installed?)' };
    });
  }
  return withEnv({ EGL_PLATFORM: 'surfaceless' }, async () => {
    const { gpu, pending } = request(['backend=opengl'], { featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    const adapter = await pending;
    return adapter ? { gpu, adapter } : { why: 'Mesa llvmpipe did not answer (apt-get install libegl1 libegl-mesa0 libgles2)' };
  });
}

/** What `auto` finds: a hardware GPU's device, or why there is none and which software adapter answers instead. */
export type AutoProbe = { device: GpuDevice } | { why: string; software: { choice: 'llvmpipe' | 'swiftshader' | 'gpu'; name: string } | null };

/**
 * `auto`'s search: a hardware GPU (a device on it), else the name of the first
 * software adapter that answers (llvmpipe, then SwiftShader, then a software
 * Vulkan driver such as lavapipe) for the notice, without a device on it.
 */
export async function probeAuto(): Promise<AutoProbe> {
  const attempt = await tryChoice('gpu').catch((e: unknown): Attempt => ({ why: (e as Error).message }));
  if ('device' in attempt) return attempt;
  const software = softwareAdapterName();
  if (software) return { why: attempt.why, software };
  return { why: attempt.why, software: attempt.software ? { choice: 'gpu', name: attempt.software } : null };
}

// Asks for the llvmpipe, else the SwiftShader adapter and prints what answered as JSON.
const SOFTWARE_PROBE = `
const [url, icd] = process.argv.slice(1);
const { create, globals } = await import(url);
Object.assign(globalThis, globals);
const pick = (choice, a) => a && { choice, ...Object.fromEntries(['vendor', 'architecture', 'device', 'description', 'isFallbackAdapter'].map((k) => [k, a.info[k]])) };
process.env.EGL_PLATFORM = 'surfaceless';
let found = pick('llvmpipe', await create(['backend=opengl']).requestAdapter({ featureLevel: 'compatibility' }).catch(() => null));
delete process.env.EGL_PLATFORM;
if (!found && icd) {
  process.env.VK_ICD_FILENAMES = icd;
  found = pick('swiftshader', await create([]).requestAdapter().catch(() => null));
}
process.stdout.write(JSON.stringify(found ?? null));
process.exit(0);
`;

/**
 * The software adapter the notice names, asked for in a child process: Dawn's
 * warnings on the way go to the child's stderr, which is dropped, and no
 * software device starts in this one (~0.2 s).
 */
function softwareAdapterName(): { choice: 'llvmpipe' | 'swiftshader'; name: string } | null {
  const url = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SOFTWARE_PROBE, url, existsSync(SWIFTSHADER_ICD) ? SWIFTSHADER_ICD : ''], {
    stdio: ['ignore', 'pipe', process.env.LATENTGPU_DEBUG === '1' ? 'inherit' : 'ignore'],
    encoding: 'utf8',
    timeout: 15_000,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  try {
    const a = JSON.parse(r.stdout) as (AdapterInfoLike & { choice: 'llvmpipe' | 'swiftshader' }) | null;
    if (!a) return null;
    return { choice: a.choice, name: adapterName(a) };
  } catch {
    return null;
  }
}

/**
 * A ready WebGPU device in Node. `auto` (here: `--backend webgpu`, which wants
 * WebGPU even on a software adapter) prefers a real GPU, then llvmpipe, then
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
