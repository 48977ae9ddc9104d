// The matmul variant measured per adapter (src/gpu/ops/matmul.ts tuneMatmul),
// kept across processes in ~/.cache/latentgpu/matmul-variants.json (or
// $LATENTGPU_CACHE_DIR) so that only the first backend on a machine pays for the
// measurement. Node only: the browser build tunes in memory.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MATMUL_VARIANTS, type MatmulVariant, type MatmulVariantStore } from '../gpu/ops/matmul.ts';

interface Entry {
  variant: MatmulVariant;
  /** GFLOP/s per variant as measured */
  gflops: Record<string, number>;
  measuredAt: string;
}

export function matmulStorePath(): string {
  const dir = process.env.LATENTGPU_CACHE_DIR || join(homedir(), '.cache', 'latentgpu');
  return join(dir, 'matmul-variants.json');
}

function readAll(path: string): Record<string, Entry> {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, Entry>) : {};
  } catch {
    return {}; // missing or unreadable: measure again
  }
}

export function fileMatmulStore(path = matmulStorePath()): MatmulVariantStore {
  return {
    load(adapterKey) {
      const e = readAll(path)[adapterKey];
      // a choice made before a variant existed does not count: measure again
      if (!e || !MATMUL_VARIANTS.includes(e.variant) || !MATMUL_VARIANTS.every((v) => typeof e.gflops?.[v] === 'number')) return undefined;
      return e.variant;
    },
    save(adapterKey, variant, gflops) {
      try {
        const all = readAll(path);
        all[adapterKey] = { variant, gflops, measuredAt: new Date().toISOString() };
        mkdirSync(join(path, '..'), { recursive: true });
        // write then rename: concurrent test workers never see a half-written file
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`);
        renameSync(tmp, path);
      } catch {
        // a read-only home only costs a measurement per process
      }
    },
  };
}
