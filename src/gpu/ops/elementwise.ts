// Elementwise kernels (shaders/elementwise.wgsl): activations, axpy, scale, fill,
// copy, gather/scatter of rows.
import type { Tensor } from '../../backend.ts';
import type * as K from '../../kernels.ts';
import type { WebGpuBackend } from '../backend.ts';

export function fill(gpu: WebGpuBackend, p: K.FillParams<Tensor>): void {
  const k = gpu.registry.get('elementwise', 'fill');
  gpu.dispatch1D(k, { x: p.x }, { n: p.n, value: p.value }, p.n);
}
const todo = (name: string) => (): never => { throw new Error(`${name}: not yet implemented`); };
export const activation = todo('activation') as (g: WebGpuBackend, p: K.ActivationParams<Tensor>) => void;
export const activationBackward = todo('activationBackward') as (g: WebGpuBackend, p: K.ActivationBackwardParams<Tensor>) => void;
export const axpy = todo('axpy') as (g: WebGpuBackend, p: K.AxpyParams<Tensor>) => void;
export const scale = todo('scale') as (g: WebGpuBackend, p: K.ScaleParams<Tensor>) => void;
export const copy = todo('copy') as (g: WebGpuBackend, p: K.CopyParams<Tensor>) => void;
export const gatherRows = todo('gatherRows') as (g: WebGpuBackend, p: K.GatherRowsParams<Tensor>) => void;
export const scatterRows = todo('scatterRows') as (g: WebGpuBackend, p: K.ScatterRowsParams<Tensor>) => void;
