// Random numbers and reparameterized sampling (shaders/random.wgsl); the key →
// numbers mapping is documented there and in the CPU reference src/cpu/random.ts.
import type { Tensor } from '../../backend.ts';
import type * as K from '../../kernels/random.ts';
import { checkRandom, checkReparamChol, checkReparamDiag, checkReparamDiagBackward } from '../../kernels/random.ts';
import type { GpuContext } from '../context.ts';

function keyParams(n: number, key: K.RngKey): Record<string, number> {
  return { n, seed: key.seed, stream: key.stream, counter: key.counter };
}

/** One invocation per pair of elements (one Threefry block). */
function pairs(n: number): number {
  return Math.ceil(n / 2);
}

export function uniform(gpu: GpuContext, p: K.RandomParams<Tensor>): void {
  checkRandom(p, 'uniform');
  const k = gpu.registry.get('random', 'randomUniform');
  gpu.dispatch1D(k, { values: p.out }, keyParams(p.n, p.key), pairs(p.n));
}

export function normal(gpu: GpuContext, p: K.RandomParams<Tensor>): void {
  checkRandom(p, 'normal');
  const k = gpu.registry.get('random', 'randomNormal');
  gpu.dispatch1D(k, { values: p.out }, keyParams(p.n, p.key), pairs(p.n));
}

export function reparamDiag(gpu: GpuContext, p: K.ReparamDiagParams<Tensor>): void {
  const n = checkReparamDiag(p);
  const k = gpu.registry.get('random', 'reparamDiag');
  gpu.dispatch1D(k, { m: p.m, logvar: p.logvar, eps: p.eps, z: p.z }, keyParams(n, p.key), pairs(n));
}

export function reparamDiagBackward(gpu: GpuContext, p: K.ReparamDiagBackwardParams<Tensor>): void {
  const n = checkReparamDiagBackward(p);
  const k = gpu.registry.get('random', 'reparamDiagBackward');
  gpu.dispatch1D(k, { dz: p.dz, epsIn: p.eps, logvarIn: p.logvar, dM: p.dM, dLogvar: p.dLogvar },
    { n, accumulate: p.accumulate ? 1 : 0 }, n);
}

/** Two dispatches: eps from the normal kernel, then z = m + L eps (the second sees the first's writes). */
export function reparamChol(gpu: GpuContext, p: K.ReparamCholParams<Tensor>): void {
  const n = checkReparamChol(p);
  gpu.dispatch1D(gpu.registry.get('random', 'randomNormal'), { values: p.eps }, keyParams(n, p.key), pairs(n));
  gpu.dispatch1D(gpu.registry.get('random', 'reparamCholApply'),
    { mRows: p.m, l: p.l, epsRows: p.eps, zRows: p.z }, { rows: p.rows, d: p.d }, n);
}
