import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelError, type AdapterDescription } from '../src/backend.ts';
import { fold, type GpuContext } from '../src/gpu/context.ts';
import { WANTED_LIMITS, adapterKind, adapterName, backendDetails, isSoftwareAdapter, limitsSummary, type AdapterInfoLike } from '../src/gpu/device.ts';
import { hardwareVulkanDriverListed } from '../src/gpu/node.ts';
import { vec4Workgroup } from '../src/gpu/ops/launch.ts';
import { adapterKey, matmulVariantFor, tuneMatmul } from '../src/gpu/ops/matmul.ts';
import '../src/gpu/shaders.node.ts';
import { registerShaderSources, shaderSource } from '../src/gpu/shaders.ts';
import { TEST_ADAPTERS, gpuBackend, parseTestAdapters } from './gpu.ts';

const tmp = mkdtempSync(join(tmpdir(), 'latentgpu-runtime-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('test adapter list', () => {
  it('an empty list, or none, fails loudly: the GPU suites cannot vanish', () => {
    expect(parseTestAdapters(undefined)).toEqual(['swiftshader', 'llvmpipe']);
    expect(parseTestAdapters(' gpu ')).toEqual(['gpu']);
    for (const blank of ['', '  ', ',', ' , ']) expect(() => parseTestAdapters(blank)).toThrow(/set but empty/);
    expect(() => parseTestAdapters('none')).toThrow(/'none' is not one of .* cannot be turned off/);
    expect(() => parseTestAdapters('llvmpipe,vulkan')).toThrow(/'vulkan' is not one of gpu, swiftshader, llvmpipe/);
    expect(() => parseTestAdapters('auto')).toThrow(/'auto' is not one of/);
  });
});

describe('WGSL includes', () => {
  it('a family gets each snippet it includes once, in place; missing and cyclic includes are errors', () => {
    for (const family of ['reduce', 'gaussian', 'bernoulli', 'kl']) {
      const code = shaderSource(family);
      expect(code).not.toMatch(/^\/\/ #include <row_tree>$/m);
      expect(code.match(/^fn rowTree\(/gm)).toHaveLength(1);
    }
    registerShaderSources({
      'test-a': 'a1\n// #include <test-b>\n// #include <test-b>\na2\n',
      'test-b': 'b1\n',
      'test-missing': '// #include <test-nope>\n',
      'test-cycle': '// #include <test-c>\n',
      'test-c': '// #include <test-cycle>\n',
    });
    expect(shaderSource('test-a')).toBe('a1\nb1\n// #include <test-b>: included above\na2\n');
    expect(() => shaderSource('test-missing')).toThrow(/no WGSL source for 'test-nope' \(included from 'test-missing'\)/);
    expect(() => shaderSource('test-cycle')).toThrow(/WGSL include cycle: test-cycle → test-c → test-cycle/);
  });
});

describe('adapter search without driver chatter', () => {
  it('looks for a Vulkan GPU only where a non-software driver manifest is installed', () => {
    const home = join(tmp, 'home');
    const data = join(tmp, 'share');
    mkdirSync(join(data, 'vulkan', 'icd.d'), { recursive: true });
    const env = { HOME: home, XDG_CONFIG_DIRS: join(tmp, 'xdg'), XDG_DATA_DIRS: data };
    expect(hardwareVulkanDriverListed(env, [])).toBe(false);
    writeFileSync(join(data, 'vulkan', 'icd.d', 'lvp_icd.x86_64.json'), '{}');
    writeFileSync(join(data, 'vulkan', 'icd.d', 'vk_swiftshader_icd.json'), '{}');
    expect(hardwareVulkanDriverListed(env, [])).toBe(false);
    expect(hardwareVulkanDriverListed({ ...env, VK_ICD_FILENAMES: '/x/icd.json' }, [])).toBe(true);
    writeFileSync(join(data, 'vulkan', 'icd.d', 'nvidia_icd.json'), '{}');
    expect(hardwareVulkanDriverListed(env, [])).toBe(true);
  });

  // Writes to fd 2 from inside withoutDriverChatter stand in for Dawn's native fprintf(stderr).
  const script = join(tmp, 'chatter.mts');
  writeFileSync(script, [
    `import { writeSync } from 'node:fs';`,
    `import { withoutDriverChatter } from ${JSON.stringify(fileURLToPath(new URL('../src/gpu/node.ts', import.meta.url)))};`,
    `process.stdout.write('out 1\\n');`,
    `process.stderr.write('err 1\\n');`,
    `const r = withoutDriverChatter(() => { writeSync(2, 'Warning: chatter\\n'); return 7; });`,
    `process.stderr.write('err 2 ' + r + '\\n');`,
    `process.stdout.write('out 2\\n');`,
  ].join('\n'));
  // Node's own child stdio are sockets, which cannot be reopened: the shell makes real pipes and files
  const run = (shell: string, env: Record<string, string> = {}) => spawnSync('bash', ['-c', shell], {
    cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', env: { ...process.env, LATENTGPU_DEBUG: '', ...env, S: script, N: process.execPath },
  });

  it('keeps native writes to stderr away, and stderr working after, on a pipe and on an appended file', () => {
    const piped = run('"$N" --import tsx "$S" 2> >(cat >&2) | cat');
    expect(piped.status, piped.stderr).toBe(0);
    expect([piped.stdout, piped.stderr]).toEqual(['out 1\nout 2\n', 'err 1\nerr 2 7\n']);
    const log = join(tmp, 'append.log');
    const appended = run(`{ "$N" --import tsx "$S"; echo done; } >> "${log}" 2>&1`);
    expect(appended.status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('out 1\nerr 1\nerr 2 7\nout 2\ndone\n');
  });

  it('lets them through where stderr cannot be reopened faithfully (a file written at an offset, a socket) or with LATENTGPU_DEBUG=1', () => {
    const log = join(tmp, 'shared.log');
    expect(run(`"$N" --import tsx "$S" > "${log}" 2>&1`).status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('out 1\nerr 1\nWarning: chatter\nerr 2 7\nout 2\n');
    // the shell's own later write to the same description lands after, not over, the program's lines
    const err = join(tmp, 'err.log');
    expect(run(`{ "$N" --import tsx "$S"; echo done >&2; } 2> "${err}"`).status).toBe(0);
    expect(readFileSync(err, 'utf8')).toBe('err 1\nWarning: chatter\nerr 2 7\ndone\n');
    const socket = run('"$N" --import tsx "$S"');
    expect(socket.stderr).toBe('err 1\nWarning: chatter\nerr 2 7\n');
    const debug = run('"$N" --import tsx "$S" 2> >(cat >&2)', { LATENTGPU_DEBUG: '1' });
    expect(debug.stderr).toBe('err 1\nWarning: chatter\nerr 2 7\n');
  });
});

/** The choices an adapter's profile drives: the untuned matmul variant and the vec4 kernels' workgroup. */
function choicesFor(adapter: AdapterDescription): { matmul: string; vec4Workgroup: number } {
  const ctx = { info: { backend: 'webgpu', adapter, summary: '' }, matmulVariants: new Map() } as unknown as GpuContext;
  const saved = process.env.LATENTGPU_MATMUL;
  delete process.env.LATENTGPU_MATMUL;
  try {
    return { matmul: matmulVariantFor(ctx), vec4Workgroup: vec4Workgroup(ctx) };
  } finally {
    if (saved !== undefined) process.env.LATENTGPU_MATMUL = saved;
  }
}

describe('adapter profile', () => {
  const profile = (info: AdapterInfoLike): AdapterDescription => {
    const kind = adapterKind(info);
    return { choice: 'x', vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false, featureLevel: 'core', ...info, kind, software: kind !== 'gpu' };
  };
  // names as Dawn reports them (llvmpipe through OpenGL and Vulkan lavapipe, SwiftShader), Chromium's blank fallback, WARP, hardware
  const cases: [AdapterInfoLike, string, string, number][] = [
    [{ device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL version 4.5 (Core Profile) Mesa 22.3.6' }, 'llvmpipe', 'texture', 64],
    [{ vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: 'lavapipe' }, 'llvmpipe', 'texture', 64],
    [{ vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0', isFallbackAdapter: true }, 'swiftshader', 'unrolled', 256],
    [{ isFallbackAdapter: true }, 'other-software', 'vec4', 256],
    [{ description: 'softpipe' }, 'other-software', 'vec4', 256],
    [{ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }, 'other-software', 'vec4', 256],
    [{ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3080' }, 'gpu', 'tiled', 256],
  ];
  it('recognises each adapter once, and the matmul default and launch shape follow its kind', () => {
    for (const [info, kind, matmul, wg] of cases) {
      const p = profile(info);
      expect([p.kind, p.software, isSoftwareAdapter(info)]).toEqual([kind, kind !== 'gpu', kind !== 'gpu']);
      expect(choicesFor(p)).toEqual({ matmul, vec4Workgroup: wg });
    }
    expect(adapterName({ choice: 'browser', isFallbackAdapter: true })).toBe('browser (fallback adapter)');
  });

  it("keys the tuner's stored choice by the adapter and the matmul WGSL's code, not its comments", async () => {
    const adapter = profile(cases[0][0]);
    const keysWith = async (wgsl: string): Promise<string[]> => {
      registerShaderSources({ matmul: wgsl });
      const keys: string[] = [];
      const ctx = { info: { backend: 'webgpu', adapter, summary: '' }, matmulVariants: new Map() } as unknown as GpuContext;
      await tuneMatmul(ctx, { store: { load: (k) => (keys.push(k), 'vec4'), save: () => {} } });
      return keys;
    };
    const original = shaderSource('matmul');
    const saved = process.env.LATENTGPU_MATMUL;
    delete process.env.LATENTGPU_MATMUL;
    try {
      const keys = await keysWith(original);
      expect(keys).toHaveLength(2);
      expect(keys[0].startsWith(`${adapterKey(adapter)}|tune:`)).toBe(true);
      expect(await keysWith(`// a moved comment\n${original.replace(/\n/, '\n/* a block comment */\n\n')}`)).toEqual(keys);
      expect(await keysWith(`${original}\nconst EDITED: u32 = 1u;\n`)).not.toEqual(keys);
    } finally {
      registerShaderSources({ matmul: original });
      if (saved !== undefined) process.env.LATENTGPU_MATMUL = saved;
    }
  });
});

describe('dispatch folding', () => {
  it('covers every workgroup and stays under the limit', () => {
    for (const g of [1, 65535, 65536, 200_001, 65535 * 70]) {
      const [x, y] = fold(g, 65535);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(g);
    }
  });
});

describe('granted limits for people', () => {
  it('names the sizes that bound data and kernels in one line', () => {
    expect(limitsSummary({
      maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 31, maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupStorageSize: 32768, maxTextureDimension2D: 16384,
    })).toBe('storage binding 128 MiB, buffer 2 GiB, workgroup 1024 invocations / 32 KiB, texture 16384');
    expect(limitsSummary({ maxStorageBufferBindingSize: 1.5 * 2 ** 30 + 1, maxBufferSize: 100 })).toBe('storage binding 1.5 GiB, buffer 100 B');
    expect(limitsSummary({})).toBe('');
  });
});

for (const adapter of TEST_ADAPTERS) {
  describe(`webgpu runtime on ${adapter}`, () => {
    it('acquires the adapter and describes it', async () => {
      const gpu = await gpuBackend(adapter);
      expect(gpu.info.adapter?.choice).toBe(adapter);
      expect(gpu.info.summary.toLowerCase()).toContain(adapter === 'swiftshader' ? 'swiftshader' : adapter === 'llvmpipe' ? 'llvmpipe' : '');
    });

    it('computes the adapter profile the per-adapter choices use, and keeps the tuner cache key', async () => {
      const a = (await gpuBackend(adapter)).info.adapter!;
      const expected = {
        llvmpipe: { kind: 'llvmpipe', software: true, isFallbackAdapter: false, featureLevel: 'compatibility' },
        swiftshader: { kind: 'swiftshader', software: true, isFallbackAdapter: true, featureLevel: 'core' },
        gpu: { kind: 'gpu', software: false, isFallbackAdapter: false, featureLevel: 'core' },
      }[adapter as 'llvmpipe' | 'swiftshader' | 'gpu'];
      expect(a).toMatchObject(expected);
      expect(choicesFor(a)).toEqual({
        llvmpipe: { matmul: 'texture', vec4Workgroup: 64 },
        swiftshader: { matmul: 'unrolled', vec4Workgroup: 256 },
        gpu: { matmul: 'tiled', vec4Workgroup: 256 },
      }[adapter as 'llvmpipe' | 'swiftshader' | 'gpu']);
      // the persisted matmul choice is keyed as before the profile existed
      expect(adapterKey(a)).toBe([a.vendor, a.architecture, a.device, a.description, a.featureLevel].join('|'));
    });

    it("gets the adapter's maxima for the limits the kernels use, and reports them", async () => {
      const gpu = await gpuBackend(adapter);
      const granted = gpu.device.limits as unknown as Record<string, number>;
      // the sizes that bound a data set: the device has exactly what the adapter offers
      for (const name of ['maxStorageBufferBindingSize', 'maxBufferSize']) {
        expect(gpu.gpu.offeredLimits[name], name).toBeGreaterThan(0);
        expect(granted[name], name).toBe(gpu.gpu.offeredLimits[name]);
      }
      for (const name of WANTED_LIMITS) expect(granted[name], name).toBe(gpu.gpu.offeredLimits[name]);
      // over WebGPU's defaults (256 MiB buffers; 128 invocations at compatibility level), so asking mattered
      expect(granted.maxBufferSize).toBeGreaterThan(2 ** 28);
      if (adapter === 'llvmpipe') expect(granted.maxComputeInvocationsPerWorkgroup).toBeGreaterThan(128);
      expect(gpu.info.adapter?.limits).toEqual(Object.fromEntries(WANTED_LIMITS.map((n) => [n, granted[n]])));
      expect(backendDetails(gpu.info)).toBe(`${gpu.info.summary}\nlimits: ${limitsSummary(gpu.info.adapter!.limits!)}`);
      expect(backendDetails({ backend: 'cpu', summary: 'cpu (x)' })).toBe('cpu (x)');
    });

    it('uploads, dispatches, reads back; views bind at their offset', async () => {
      const gpu = await gpuBackend(adapter);
      const t = gpu.tensor(300, { label: 't' });
      const v = gpu.view(t, 128, 100);
      gpu.fill({ x: v, n: 100, value: 2.5 });
      const out = await gpu.read(t);
      expect(out[127]).toBe(0);
      expect(out[128]).toBe(2.5);
      expect(out[227]).toBe(2.5);
      expect(out[228]).toBe(0);
      gpu.release(t);
    });

    it('keeps program order between recorded dispatches and uploads', async () => {
      const gpu = await gpuBackend(adapter);
      const t = gpu.tensor(10);
      gpu.fill({ x: t, n: 10, value: 1 });
      gpu.upload(t, new Float32Array([7]), 3);
      gpu.fill({ x: t, n: 2, value: 5 });
      expect(Array.from(await gpu.read(t)).slice(0, 5)).toEqual([5, 5, 1, 7, 1]);
      gpu.release(t);
    });

    it('gives each dispatch in one submission its own parameters', async () => {
      const gpu = await gpuBackend(adapter);
      const ts = Array.from({ length: 5 }, () => gpu.tensor(4));
      ts.forEach((t, i) => gpu.fill({ x: t, n: 4, value: i }));
      const vals = await Promise.all(ts.map((t) => gpu.read(t)));
      expect(vals.map((v) => v[0])).toEqual([0, 1, 2, 3, 4]);
      ts.forEach((t) => gpu.release(t));
    });

    it('folds dispatches over 65535 workgroups', async () => {
      const gpu = await gpuBackend(adapter);
      const k = gpu.registry.get('elementwise', 'fill', { WG: 16 });
      const n = 16 * 65535 * 2 + 1000;
      const t = gpu.tensor(n + 1);
      gpu.dispatch1D(k, { x: t }, { n, value: 3 }, n);
      const out = await gpu.read(t);
      expect(out.subarray(0, n).every((v) => v === 3)).toBe(true);
      expect(out[n]).toBe(0);
      gpu.release(t);
    });

    it('names the kernel and the problem for bad bindings and parameters', async () => {
      const gpu = await gpuBackend(adapter);
      const k = gpu.registry.get('elementwise', 'fill');
      const t = gpu.tensor(4);
      expect(() => gpu.dispatch(k, {}, { n: 4, value: 1 }, [1, 1, 1])).toThrow(/elementwise\.fill.*missing binding 'x'/);
      expect(() => gpu.dispatch(k, { x: t, y: t }, { n: 4, value: 1 }, [1, 1, 1])).toThrow(/unknown binding 'y'/);
      expect(() => gpu.dispatch(k, { x: t }, { n: 4 }, [1, 1, 1])).toThrow(/missing parameter 'value'/);
      expect(() => gpu.dispatch(k, { x: t }, { n: -1, value: 1 }, [1, 1, 1])).toThrow(/'n'/);
      const u = gpu.tensor(4, { dtype: 'u32' });
      expect(() => gpu.dispatch(k, { x: u }, { n: 4, value: 1 }, [1, 1, 1])).toThrow(KernelError);
      expect(() => gpu.registry.get('elementwise', 'nope')).toThrow(/no compute entry point 'nope'/);
      gpu.release(t);
      gpu.release(u);
    });

    it('reuses pooled buffers instead of growing memory', async () => {
      const gpu = await gpuBackend(adapter);
      const before = gpu.memoryStats().buffers;
      for (let i = 0; i < 50; i++) {
        const t = gpu.tensor(1000);
        gpu.fill({ x: t, n: 1000, value: i });
        gpu.release(t);
        gpu.flush();
      }
      await gpu.finish();
      expect(gpu.memoryStats().buffers - before).toBeLessThanOrEqual(1);
      // a pooled buffer comes back zero-filled
      const z = gpu.tensor(1000);
      expect((await gpu.read(z)).every((v) => v === 0)).toBe(true);
      gpu.release(z);
    });
  });
}

for (const adapter of TEST_ADAPTERS) {
  describe(`webgpu binding rules on ${adapter}`, () => {
    it('rejects a buffer bound read-only and writable in one dispatch, naming the kernel', async () => {
      const gpu = await gpuBackend(adapter);
      const t = gpu.tensor(256, { label: 'flat' });
      const a = gpu.view(t, 0, 64, 'a');
      const b = gpu.view(t, 128, 64, 'b');
      expect(() => gpu.axpy({ x: a, y: b, n: 64, alpha: 1 })).not.toThrow(/read/); // both writable is fine
      await gpu.finish();
      const k = gpu.registry.get('random', 'reparamDiagBackward');
      const reads = k.storage.find((s) => s.access === 'read');
      const writes = k.storage.find((s) => s.access === 'read_write');
      if (!reads || !writes) throw new Error('random.reparamDiagBackward should read and write storage');
      const bufs: Record<string, ReturnType<typeof gpu.tensor>> = {};
      for (const s of k.storage) bufs[s.name] = gpu.tensor(64);
      bufs[reads.name] = a;
      bufs[writes.name] = b;
      expect(() => gpu.dispatch(k, bufs, Object.fromEntries((k.uniform?.members ?? []).map((m) => [m.name, 1])), [1, 1, 1]))
        .toThrow(/random\.reparamDiagBackward.*does not allow that in one dispatch/);
      gpu.release(t);
    });

    it('zero-fills the part of a pooled buffer that initial data does not cover', async () => {
      const gpu = await gpuBackend(adapter);
      const t = gpu.tensor(100);
      gpu.fill({ x: t, n: 100, value: 9 });
      gpu.release(t);
      await gpu.finish();
      const u = gpu.tensor(100, { data: new Float32Array([1, 2]) });
      const out = await gpu.read(u);
      expect(Array.from(out.subarray(0, 4))).toEqual([1, 2, 0, 0]);
      expect(out[99]).toBe(0);
      gpu.release(u);
    });
  });
}
