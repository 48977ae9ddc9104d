import { describe, expect, it } from 'vitest';
import { KernelError } from '../src/backend.ts';
import { fold } from '../src/gpu/backend.ts';
import { TEST_ADAPTERS, gpuBackend } from './gpu.ts';

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

for (const adapter of TEST_ADAPTERS) {
  describe(`webgpu runtime on ${adapter}`, () => {
    it('acquires the adapter and describes it', async () => {
      const gpu = await gpuBackend(adapter);
      expect(gpu.info.adapter?.choice).toBe(adapter);
      expect(gpu.info.summary.toLowerCase()).toContain(adapter === 'swiftshader' ? 'swiftshader' : adapter === 'llvmpipe' ? 'llvmpipe' : '');
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
