// The CPU backend: the reference kernels of src/cpu run directly on
// Float32Arrays. It is the tests' oracle and the fallback when no WebGPU
// adapter exists. u32 tensors share the same bytes (see u32View).
import { VIEW_ALIGN, need, type Backend, type BackendInfo, type DType, type Tensor } from '../backend.ts';
import type * as K from '../kernels.ts';
import { u32View, type Arrays } from './arrays.ts';
import * as elementwise from './elementwise.ts';
import * as likelihood from './likelihood.ts';
import * as matmul from './matmul.ts';
import * as optim from './optim.ts';
import * as random from './random.ts';
import * as reduce from './reduce.ts';

export class CpuTensor implements Tensor {
  released = false;
  constructor(
    readonly data: Float32Array,
    readonly dtype: DType,
    readonly label: string,
    readonly parent: CpuTensor | null,
  ) {}
  get length(): number {
    return this.data.length;
  }
}

export class CpuBackend implements Backend {
  readonly info: BackendInfo = { backend: 'cpu', summary: 'cpu (TypeScript reference kernels)' };

  private arr(t: Tensor, kernel: string): Float32Array {
    need(t instanceof CpuTensor, kernel, `'${t?.label}' is not a CPU tensor`);
    need(!t.released && !(t.parent?.released), kernel, `'${t.label}' was released`);
    return t.data;
  }

  /** Replaces every tensor field of p by its array. */
  private unwrap<P extends object>(p: P, kernel: string): Arrays<P> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p)) out[k] = v instanceof CpuTensor ? this.arr(v, kernel) : v;
    return out as Arrays<P>;
  }

  tensor(length: number, opts: { dtype?: DType; label?: string; data?: Float32Array | Uint32Array } = {}): CpuTensor {
    const label = opts.label ?? 'tensor';
    need(Number.isInteger(length) && length > 0, 'tensor', `'${label}' needs a positive integer length, got ${length}`);
    const t = new CpuTensor(new Float32Array(length), opts.dtype ?? 'f32', label, null);
    if (opts.data) this.upload(t, opts.data);
    return t;
  }

  view(t: Tensor, offset: number, length: number, label?: string): CpuTensor {
    const c = t as CpuTensor;
    const a = this.arr(t, 'view');
    need(offset % VIEW_ALIGN === 0, 'view', `offset ${offset} into '${t.label}' is not a multiple of ${VIEW_ALIGN} elements`);
    need(offset >= 0 && length > 0 && offset + length <= a.length, 'view',
      `[${offset}, ${offset + length}) is outside '${t.label}' (length ${a.length})`);
    return new CpuTensor(a.subarray(offset, offset + length), c.dtype, label ?? `${t.label}[${offset}:${offset + length}]`, c.parent ?? c);
  }

  upload(t: Tensor, data: Float32Array | Uint32Array, offset = 0): void {
    const a = this.arr(t, 'upload');
    need(offset >= 0 && offset + data.length <= a.length, 'upload',
      `${data.length} values at offset ${offset} do not fit in '${t.label}' (length ${a.length})`);
    if (data instanceof Uint32Array) u32View(a).set(data, offset);
    else a.set(data, offset);
  }

  async read(t: Tensor): Promise<Float32Array> {
    return this.arr(t, 'read').slice();
  }

  async readU32(t: Tensor): Promise<Uint32Array> {
    return u32View(this.arr(t, 'readU32')).slice();
  }

  release(t: Tensor): void {
    need(t instanceof CpuTensor && t.parent === null, 'release', `'${t?.label}' is not a root CPU tensor`);
    t.released = true;
  }

  flush(): void {}
  async finish(): Promise<void> {}
  destroy(): void {}

  matmul(p: K.MatmulParams<Tensor>): void { matmul.matmul(this.unwrap(p, 'matmul')); }
  gaussianLogDensity(p: K.GaussianLogDensityParams<Tensor>): void { likelihood.gaussianLogDensity(this.unwrap(p, 'gaussianLogDensity')); }
  gaussianLogDensityBackward(p: K.GaussianLogDensityBackwardParams<Tensor>): void { likelihood.gaussianLogDensityBackward(this.unwrap(p, 'gaussianLogDensityBackward')); }
  bernoulliLogLik(p: K.BernoulliLogLikParams<Tensor>): void { likelihood.bernoulliLogLik(this.unwrap(p, 'bernoulliLogLik')); }
  bernoulliLogLikBackward(p: K.BernoulliLogLikBackwardParams<Tensor>): void { likelihood.bernoulliLogLikBackward(this.unwrap(p, 'bernoulliLogLikBackward')); }
  klStdNormal(p: K.KlStdNormalParams<Tensor>): void { likelihood.klStdNormal(this.unwrap(p, 'klStdNormal')); }
  klStdNormalBackward(p: K.KlStdNormalBackwardParams<Tensor>): void { likelihood.klStdNormalBackward(this.unwrap(p, 'klStdNormalBackward')); }
  uniform(p: K.RandomParams<Tensor>): void { random.uniform(this.unwrap(p, 'uniform')); }
  normal(p: K.RandomParams<Tensor>): void { random.normal(this.unwrap(p, 'normal')); }
  reparamDiag(p: K.ReparamDiagParams<Tensor>): void { random.reparamDiag(this.unwrap(p, 'reparamDiag')); }
  reparamDiagBackward(p: K.ReparamDiagBackwardParams<Tensor>): void { random.reparamDiagBackward(this.unwrap(p, 'reparamDiagBackward')); }
  reparamChol(p: K.ReparamCholParams<Tensor>): void { random.reparamChol(this.unwrap(p, 'reparamChol')); }
  sumRows(p: K.SumRowsParams<Tensor>): void { reduce.sumRows(this.unwrap(p, 'sumRows')); }
  sumCols(p: K.SumColsParams<Tensor>): void { reduce.sumCols(this.unwrap(p, 'sumCols')); }
  sumAll(p: K.SumAllParams<Tensor>): void { reduce.sumAll(this.unwrap(p, 'sumAll')); }
  countNonFinite(p: K.CountNonFiniteParams<Tensor>): void { reduce.countNonFinite(this.unwrap(p, 'countNonFinite')); }
  activation(p: K.ActivationParams<Tensor>): void { elementwise.activation(this.unwrap(p, 'activation')); }
  activationBackward(p: K.ActivationBackwardParams<Tensor>): void { elementwise.activationBackward(this.unwrap(p, 'activationBackward')); }
  axpy(p: K.AxpyParams<Tensor>): void { elementwise.axpy(this.unwrap(p, 'axpy')); }
  scale(p: K.ScaleParams<Tensor>): void { elementwise.scale(this.unwrap(p, 'scale')); }
  fill(p: K.FillParams<Tensor>): void { elementwise.fill(this.unwrap(p, 'fill')); }
  copy(p: K.CopyParams<Tensor>): void { elementwise.copy(this.unwrap(p, 'copy')); }
  adam(p: K.AdamParams<Tensor>): void { optim.adam(this.unwrap(p, 'adam')); }
  sgd(p: K.SgdParams<Tensor>): void { optim.sgd(this.unwrap(p, 'sgd')); }
  gatherRows(p: K.GatherRowsParams<Tensor>): void {
    need(p.idx?.dtype === 'u32', 'gatherRows', `'idx' must be a u32 tensor, got ${p.idx?.dtype} (${p.idx?.label})`);
    elementwise.gatherRows(this.unwrap(p, 'gatherRows'));
  }
  scatterRows(p: K.ScatterRowsParams<Tensor>): void {
    need(p.idx?.dtype === 'u32', 'scatterRows', `'idx' must be a u32 tensor, got ${p.idx?.dtype} (${p.idx?.label})`);
    elementwise.scatterRows(this.unwrap(p, 'scatterRows'));
  }
}
