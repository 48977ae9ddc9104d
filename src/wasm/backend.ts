// The WebAssembly CPU backend: every tensor lives in one WebAssembly.Memory
// (an Arena hands out 256-byte-aligned blocks; views are offsets into them) and
// the hot kernels run as SIMD code compiled from assembly/ (AssemblyScript).
// matmul above a size threshold is split over a pool of threads that share the
// memory. Kernels not worth porting (the RNG family, fill/copy, gather/scatter)
// run the TypeScript references of src/cpu on Float32Array views of the memory,
// so the random numbers are exactly the reference's.
import { VIEW_ALIGN, need, type Backend, type BackendInfo, type DType, type Tensor } from '../backend.ts';
import type * as K from '../kernels.ts';
import { u32View, type Arrays } from '../cpu/arrays.ts';
import * as refElementwise from '../cpu/elementwise.ts';
import * as refRandom from '../cpu/random.ts';
import { ACTIVATION_CODE, checkActivation, checkActivationBackward, checkAxpy, checkScale } from '../kernels/elementwise.ts';
import {
  LOGVAR_CODE, checkBernoulliLogLik, checkBernoulliLogLikBackward, checkGaussianLogDensity, checkGaussianLogDensityBackward,
  checkKlStdNormal, checkKlStdNormalBackward,
} from '../kernels/likelihood.ts';
import { checkMatmul } from '../kernels/matmul.ts';
import { checkAdam, checkSgd } from '../kernels/optim.ts';
import { checkCountNonFinite, checkSumAll, checkSumCols, checkSumRows } from '../kernels/reduce.ts';
import { Arena } from './arena.ts';

/** The functions the kernel module exports (assembly/index.ts); pointers are byte offsets. */
export interface WasmKernelExports {
  heapBase(): number;
  matmulScratchBytes(): number;
  matmulThread(desc: number, tid: number, nthreads: number): void;
  /** one thread's share of the job at desc (assembly/threads.ts): what the pool's workers run */
  runThread(desc: number, tid: number, nthreads: number): void;
  activationForward(x: number, y: number, n: number, act: number): void;
  activationBackward(y: number, dy: number, dx: number, n: number, act: number, accumulate: number): void;
  axpy(x: number, y: number, n: number, alpha: number): void;
  scale(x: number, n: number, alpha: number): void;
  sgd(param: number, grad: number, n: number, lr: number): void;
  sumRows(x: number, out: number, rows: number, cols: number, accumulate: number): void;
  sumCols(x: number, out: number, rows: number, cols: number, accumulate: number, scratch: number): void;
  sumAll(x: number, out: number, n: number, accumulate: number): void;
  countNonFinite(x: number, out: number, n: number): void;
  gaussianLogDensity(x: number, mu: number, lv: number, out: number, rows: number, cols: number, mode: number): void;
  gaussianLogDensityBackward(x: number, mu: number, lv: number, dOut: number, dMu: number, dLv: number,
    rows: number, cols: number, mode: number, accumulate: number, scratch: number): void;
  bernoulliLogLik(x: number, logits: number, out: number, rows: number, cols: number): void;
  bernoulliLogLikBackward(x: number, logits: number, dOut: number, dLogits: number, rows: number, cols: number, accumulate: number): void;
  klStdNormal(m: number, lv: number, out: number, rows: number, cols: number): void;
  klStdNormalBackward(m: number, lv: number, dOut: number, dM: number, dLv: number, rows: number, cols: number, accumulate: number): void;
  adam(param: number, grad: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, biasCorrection1: number, biasCorrection2: number, weightDecay: number): void;
}

/**
 * Threads that run a kernel's share in parallel with the caller. run() returns
 * when every thread, the caller (tid 0) included, has finished its share.
 */
export interface ThreadPool {
  /** threads including the calling one */
  readonly size: number;
  run(desc: number, nthreads: number, own: () => void, kernel?: string): void;
  destroy(): void;
}

export interface WasmBackendOptions {
  memory: WebAssembly.Memory;
  exports: WasmKernelExports;
  /** most pages the memory may grow to (its declared maximum) */
  maxPages: number;
  pool?: ThreadPool | null;
  /** multiply-adds (m·n·k·batch) from which matmul uses the pool; default 2^21 (~0.1 ms of work, well above a thread wake-up) */
  threadThreshold?: number;
  /** elements from which Adam and the Bernoulli log-likelihood (+backward) use the pool; default 2^16 (~0.1 ms of work) */
  elementThreshold?: number;
  /** where it runs, for info.summary */
  where?: string;
}

export class WasmTensor implements Tensor {
  released = false;
  constructor(
    /** byte offset in the memory */
    readonly offset: number,
    readonly length: number,
    readonly dtype: DType,
    readonly label: string,
    readonly root: WasmTensor | null,
  ) {}
}

/** i32 slots of a job descriptor: the kind, then up to 18 arguments (assembly/threads.ts, assembly/matmul.ts) */
const DESC_SLOTS = 19;
/** job kinds of assembly/threads.ts */
const JOB = { matmul: 0, adam: 1, bernoulliLogLik: 2, bernoulliLogLikBackward: 3 } as const;

export class WasmBackend implements Backend {
  readonly info: BackendInfo;
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  private readonly k: WasmKernelExports;
  private readonly arena: Arena;
  private readonly pool: ThreadPool | null;
  private readonly threadThreshold: number;
  private readonly elementThreshold: number;
  private readonly desc: number;
  private scratch = 0;
  private scratchBytes = 0;
  private heapBuffer: ArrayBufferLike | null = null;
  private heapF32 = new Float32Array(0);
  private heapI32 = new Int32Array(0);
  private destroyed = false;

  constructor(opts: WasmBackendOptions) {
    this.memory = opts.memory;
    this.k = opts.exports;
    this.pool = opts.pool ?? null;
    this.threads = this.pool?.size ?? 1;
    this.threadThreshold = opts.threadThreshold ?? 1 << 21;
    this.elementThreshold = opts.elementThreshold ?? 1 << 16;
    this.arena = new Arena(this.memory, this.k.heapBase(), opts.maxPages);
    this.desc = this.arena.alloc(DESC_SLOTS * 4, 'job descriptor');
    const threads = this.threads > 1 ? `${this.threads} threads` : '1 thread';
    this.info = { backend: 'cpu', summary: `cpu (WebAssembly SIMD, ${threads}${opts.where ? `, ${opts.where}` : ''})` };
  }

  /** bytes of the memory now (grows, never shrinks) */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** bytes held by live tensors and scratch */
  get bytesInUse(): number {
    return this.arena.inUse;
  }

  // A non-shared memory's buffer is replaced (and the old one detached) on grow:
  // views are re-made whenever the buffer object changes.
  private heap(): Float32Array {
    if (this.memory.buffer !== this.heapBuffer) {
      this.heapBuffer = this.memory.buffer;
      this.heapF32 = new Float32Array(this.heapBuffer);
      this.heapI32 = new Int32Array(this.heapBuffer);
    }
    return this.heapF32;
  }

  private live(t: Tensor | undefined, kernel: string, name: string): WasmTensor {
    need(!this.destroyed, kernel, 'the WebAssembly backend was destroyed');
    need(t instanceof WasmTensor, kernel, `'${name}' (${(t as Tensor | undefined)?.label}) is not a WebAssembly-backend tensor`);
    need(!t.released && !(t.root?.released), kernel, `'${t.label}' was released`);
    return t;
  }

  /** Byte offset of a tensor parameter, checked live. */
  private ptr(t: Tensor, kernel: string, name: string): number {
    return this.live(t, kernel, name).offset;
  }

  /** A Float32Array over t's elements; valid until the memory next grows. */
  f32(t: Tensor): Float32Array {
    const w = this.live(t, 'f32', 'tensor');
    return this.heap().subarray(w.offset >> 2, (w.offset >> 2) + w.length);
  }

  /** Replaces every tensor field of p by a view of its elements (for the TS references). */
  private unwrap<P extends object>(p: P, kernel: string): Arrays<P> {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(p)) {
      out[key] = v instanceof WasmTensor ? (this.live(v, kernel, key), this.heap().subarray(v.offset >> 2, (v.offset >> 2) + v.length)) : v;
    }
    return out as Arrays<P>;
  }

  tensor(length: number, opts: { dtype?: DType; label?: string; data?: Float32Array | Uint32Array } = {}): WasmTensor {
    const label = opts.label ?? 'tensor';
    need(!this.destroyed, 'tensor', 'the WebAssembly backend was destroyed');
    need(Number.isInteger(length) && length > 0, 'tensor', `'${label}' needs a positive integer length, got ${length}`);
    const offset = this.arena.alloc(length * 4, label);
    const t = new WasmTensor(offset, length, opts.dtype ?? 'f32', label, null);
    // freed blocks hold old values; tensors start zeroed
    this.heap().fill(0, offset >> 2, (offset >> 2) + length);
    if (opts.data) this.upload(t, opts.data);
    return t;
  }

  view(t: Tensor, offset: number, length: number, label?: string): WasmTensor {
    const w = this.live(t, 'view', 'tensor');
    need(offset % VIEW_ALIGN === 0, 'view', `offset ${offset} into '${t.label}' is not a multiple of ${VIEW_ALIGN} elements`);
    need(offset >= 0 && length > 0 && offset + length <= w.length, 'view',
      `[${offset}, ${offset + length}) is outside '${t.label}' (length ${w.length})`);
    return new WasmTensor(w.offset + offset * 4, length, w.dtype, label ?? `${t.label}[${offset}:${offset + length}]`, w.root ?? w);
  }

  upload(t: Tensor, data: Float32Array | Uint32Array, offset = 0): void {
    const a = this.f32(t);
    need(offset >= 0 && offset + data.length <= a.length, 'upload',
      `${data.length} values at offset ${offset} do not fit in '${t.label}' (length ${a.length})`);
    if (data instanceof Uint32Array) u32View(a).set(data, offset);
    else a.set(data, offset);
  }

  async read(t: Tensor): Promise<Float32Array> {
    return this.f32(t).slice();
  }

  async readU32(t: Tensor): Promise<Uint32Array> {
    return u32View(this.f32(t)).slice();
  }

  release(t: Tensor): void {
    need(t instanceof WasmTensor && t.root === null, 'release', `'${t?.label}' is not a root WebAssembly-backend tensor`);
    need(!t.released, 'release', `'${t.label}' was already released`);
    t.released = true;
    if (!this.destroyed) this.arena.release(t.offset);
  }

  flush(): void {}
  async finish(): Promise<void> {}
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool?.destroy();
  }

  // ------------------------------------------------------------------ matmul

  /** Scratch for nthreads matmul threads, grown (never shrunk) on demand. */
  private matmulScratch(nthreads: number): number {
    const per = this.k.matmulScratchBytes();
    const bytes = per * nthreads;
    if (bytes > this.scratchBytes) {
      if (this.scratchBytes > 0) this.arena.release(this.scratch);
      this.scratch = this.arena.alloc(bytes, 'matmul scratch');
      this.scratchBytes = bytes;
    }
    return per;
  }

  matmul(p: K.MatmulParams<Tensor>): void {
    const s = checkMatmul(p);
    const a = this.ptr(p.a, 'matmul', 'a'), b = this.ptr(p.b, 'matmul', 'b'), c = this.ptr(p.c, 'matmul', 'c');
    const bias = p.bias === undefined ? 0 : this.ptr(p.bias, 'matmul', 'bias');
    if (s.m === 0 || s.n === 0 || s.batch === 0) return;
    // the kernel indexes one matrix with i32 byte offsets
    need(Math.max(s.m * s.k, s.k * s.n, s.m * s.n) < 2 ** 29, 'matmul',
      `a ${s.m}×${s.k}, b ${s.k}×${s.n} or c ${s.m}×${s.n} matrix exceeds 2^29 elements (the WebAssembly kernel's limit)`);
    const work = s.m * s.n * Math.max(s.k, 1) * s.batch;
    const nthreads = this.pool && work >= this.threadThreshold ? this.pool.size : 1;
    const per = this.matmulScratch(nthreads);
    this.heap();
    const slots = this.heapI32;
    slots[this.desc >> 2] = JOB.matmul;
    const d = (this.desc >> 2) + 1;
    slots[d] = a; slots[d + 1] = b; slots[d + 2] = c; slots[d + 3] = bias;
    slots[d + 4] = s.m; slots[d + 5] = s.n; slots[d + 6] = s.k;
    slots[d + 7] = s.transA ? 1 : 0; slots[d + 8] = s.transB ? 1 : 0;
    slots[d + 9] = s.batch; slots[d + 10] = s.strideA; slots[d + 11] = s.strideB; slots[d + 12] = s.strideC;
    slots[d + 13] = ACTIVATION_CODE[s.act];
    this.heapF32[d + 14] = s.alpha;
    slots[d + 15] = s.accumulate ? 1 : 0;
    slots[d + 16] = this.scratch; slots[d + 17] = per;
    if (nthreads > 1) this.pool!.run(this.desc, nthreads, () => this.k.runThread(this.desc, 0, nthreads));
    else this.k.matmulThread(this.desc + 4, 0, 1);
  }

  /** Whether an elementwise kernel over n elements is worth the pool's wake-up. */
  private split(n: number): boolean {
    return this.pool !== null && n >= this.elementThreshold;
  }

  /** Runs job `kind` on every thread of the pool; `args` are i32 slots except those at `floatSlots`. */
  private runJob(kernel: keyof typeof JOB, args: number[], floatSlots: number[] = []): void {
    this.heap();
    const d = this.desc >> 2;
    this.heapI32[d] = JOB[kernel];
    for (let i = 0; i < args.length; i++) {
      if (floatSlots.includes(i)) this.heapF32[d + 1 + i] = args[i]!;
      else this.heapI32[d + 1 + i] = args[i]!;
    }
    const nthreads = this.pool!.size;
    this.pool!.run(this.desc, nthreads, () => this.k.runThread(this.desc, 0, nthreads), kernel);
  }

  // -------------------------------------------------------- likelihood and KL

  /** A temporary block of bytes for one kernel call. */
  private withScratch(bytes: number, f: (ptr: number) => void): void {
    const ptr = this.arena.alloc(bytes, 'kernel scratch');
    try {
      f(ptr);
    } finally {
      this.arena.release(ptr);
    }
  }

  gaussianLogDensity(p: K.GaussianLogDensityParams<Tensor>): void {
    checkGaussianLogDensity(p);
    const k = 'gaussianLogDensity';
    this.k.gaussianLogDensity(this.ptr(p.x, k, 'x'), this.ptr(p.mu, k, 'mu'), this.ptr(p.logvar, k, 'logvar'),
      this.ptr(p.out, k, 'out'), p.rows, p.cols, LOGVAR_CODE[p.logvarMode]);
  }

  gaussianLogDensityBackward(p: K.GaussianLogDensityBackwardParams<Tensor>): void {
    checkGaussianLogDensityBackward(p);
    const k = 'gaussianLogDensityBackward';
    const args = [this.ptr(p.x, k, 'x'), this.ptr(p.mu, k, 'mu'), this.ptr(p.logvar, k, 'logvar'), this.ptr(p.dOut, k, 'dOut'),
      this.ptr(p.dMu, k, 'dMu'), this.ptr(p.dLogvar, k, 'dLogvar')] as const;
    const run = (scratch: number) => this.k.gaussianLogDensityBackward(...args, p.rows, p.cols,
      LOGVAR_CODE[p.logvarMode], p.accumulate ? 1 : 0, scratch);
    if (p.logvarMode === 'column') this.withScratch(p.cols * 4, run);
    else run(0);
  }

  bernoulliLogLik(p: K.BernoulliLogLikParams<Tensor>): void {
    checkBernoulliLogLik(p);
    const k = 'bernoulliLogLik';
    const args = [this.ptr(p.x, k, 'x'), this.ptr(p.logits, k, 'logits'), this.ptr(p.out, k, 'out'), p.rows, p.cols] as const;
    if (this.split(p.rows * p.cols) && p.rows > 1) this.runJob(k, [...args]);
    else this.k.bernoulliLogLik(...args);
  }

  bernoulliLogLikBackward(p: K.BernoulliLogLikBackwardParams<Tensor>): void {
    checkBernoulliLogLikBackward(p);
    const k = 'bernoulliLogLikBackward';
    const args = [this.ptr(p.x, k, 'x'), this.ptr(p.logits, k, 'logits'), this.ptr(p.dOut, k, 'dOut'),
      this.ptr(p.dLogits, k, 'dLogits'), p.rows, p.cols, p.accumulate ? 1 : 0] as const;
    if (this.split(p.rows * p.cols) && p.rows > 1) this.runJob(k, [...args]);
    else this.k.bernoulliLogLikBackward(...args);
  }

  klStdNormal(p: K.KlStdNormalParams<Tensor>): void {
    checkKlStdNormal(p);
    const k = 'klStdNormal';
    this.k.klStdNormal(this.ptr(p.m, k, 'm'), this.ptr(p.logvar, k, 'logvar'), this.ptr(p.out, k, 'out'), p.rows, p.cols);
  }

  klStdNormalBackward(p: K.KlStdNormalBackwardParams<Tensor>): void {
    checkKlStdNormalBackward(p);
    const k = 'klStdNormalBackward';
    this.k.klStdNormalBackward(this.ptr(p.m, k, 'm'), this.ptr(p.logvar, k, 'logvar'), this.ptr(p.dOut, k, 'dOut'),
      this.ptr(p.dM, k, 'dM'), this.ptr(p.dLogvar, k, 'dLogvar'), p.rows, p.cols, p.accumulate ? 1 : 0);
  }

  // ------------------------------------------------------ random (reference)

  uniform(p: K.RandomParams<Tensor>): void { refRandom.uniform(this.unwrap(p, 'uniform')); }
  normal(p: K.RandomParams<Tensor>): void { refRandom.normal(this.unwrap(p, 'normal')); }
  reparamDiag(p: K.ReparamDiagParams<Tensor>): void { refRandom.reparamDiag(this.unwrap(p, 'reparamDiag')); }
  reparamDiagBackward(p: K.ReparamDiagBackwardParams<Tensor>): void { refRandom.reparamDiagBackward(this.unwrap(p, 'reparamDiagBackward')); }
  reparamChol(p: K.ReparamCholParams<Tensor>): void { refRandom.reparamChol(this.unwrap(p, 'reparamChol')); }

  // -------------------------------------------------------------- reductions

  sumRows(p: K.SumRowsParams<Tensor>): void {
    checkSumRows(p);
    this.k.sumRows(this.ptr(p.x, 'sumRows', 'x'), this.ptr(p.out, 'sumRows', 'out'), p.rows, p.cols, p.accumulate ? 1 : 0);
  }

  sumCols(p: K.SumColsParams<Tensor>): void {
    checkSumCols(p);
    const x = this.ptr(p.x, 'sumCols', 'x'), out = this.ptr(p.out, 'sumCols', 'out');
    if (p.cols === 0) return;
    // cols f32 partial sums, then cols f64 totals (8-byte aligned)
    const f64At = Math.ceil(p.cols / 2) * 8;
    this.withScratch(f64At + p.cols * 8, (s) => this.k.sumCols(x, out, p.rows, p.cols, p.accumulate ? 1 : 0, s));
  }

  sumAll(p: K.SumAllParams<Tensor>): void {
    checkSumAll(p);
    this.k.sumAll(this.ptr(p.x, 'sumAll', 'x'), this.ptr(p.out, 'sumAll', 'out'), p.n, p.accumulate ? 1 : 0);
  }

  countNonFinite(p: K.CountNonFiniteParams<Tensor>): void {
    checkCountNonFinite(p);
    this.k.countNonFinite(this.ptr(p.x, 'countNonFinite', 'x'), this.ptr(p.out, 'countNonFinite', 'out'), p.n);
  }

  // ------------------------------------------------------------- elementwise

  activation(p: K.ActivationParams<Tensor>): void {
    checkActivation(p);
    this.k.activationForward(this.ptr(p.x, 'activation', 'x'), this.ptr(p.y, 'activation', 'y'), p.n, ACTIVATION_CODE[p.act]);
  }

  activationBackward(p: K.ActivationBackwardParams<Tensor>): void {
    checkActivationBackward(p);
    const k = 'activationBackward';
    this.k.activationBackward(this.ptr(p.y, k, 'y'), this.ptr(p.dy, k, 'dy'), this.ptr(p.dx, k, 'dx'), p.n,
      ACTIVATION_CODE[p.act], p.accumulate ? 1 : 0);
  }

  axpy(p: K.AxpyParams<Tensor>): void {
    checkAxpy(p);
    this.k.axpy(this.ptr(p.x, 'axpy', 'x'), this.ptr(p.y, 'axpy', 'y'), p.n, p.alpha);
  }

  scale(p: K.ScaleParams<Tensor>): void {
    checkScale(p);
    this.k.scale(this.ptr(p.x, 'scale', 'x'), p.n, p.alpha);
  }

  // native TypedArray fill/set are already memset/memcpy speed
  fill(p: K.FillParams<Tensor>): void { refElementwise.fill(this.unwrap(p, 'fill')); }
  copy(p: K.CopyParams<Tensor>): void { refElementwise.copy(this.unwrap(p, 'copy')); }
  gatherRows(p: K.GatherRowsParams<Tensor>): void { refElementwise.gatherRows(this.unwrap(p, 'gatherRows')); }
  scatterRows(p: K.ScatterRowsParams<Tensor>): void { refElementwise.scatterRows(this.unwrap(p, 'scatterRows')); }

  // --------------------------------------------------------------- optimizer

  adam(p: K.AdamParams<Tensor>): void {
    const { biasCorrection1, biasCorrection2, weightDecay } = checkAdam(p);
    const k = 'adam';
    const args = [this.ptr(p.param, k, 'param'), this.ptr(p.grad, k, 'grad'), this.ptr(p.m, k, 'm'), this.ptr(p.v, k, 'v'),
      p.n, p.lr, p.beta1, p.beta2, p.eps, biasCorrection1, biasCorrection2, weightDecay] as const;
    if (this.split(p.n)) this.runJob(k, [...args], [5, 6, 7, 8, 9, 10, 11]);
    else this.k.adam(...args);
  }

  sgd(p: K.SgdParams<Tensor>): void {
    checkSgd(p);
    this.k.sgd(this.ptr(p.param, 'sgd', 'param'), this.ptr(p.grad, 'sgd', 'grad'), p.n, p.lr);
  }
}
