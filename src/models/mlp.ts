// Multi-layer perceptrons with hand-written forward and backward passes on the
// kernel set. A layer is y = act(x W + b) with W stored in×out, one matmul with
// bias and activation fused in its epilogue. Backward passes accumulate into the
// gradient buffer (llm.c style), the first write of a step overwriting (ParamStore.gradTarget).
import { need, type Backend, type Tensor } from '../backend.ts';
import type { Activation } from '../kernels.ts';
import type { HostRng } from '../train/rng.ts';
import type { ParamLayout, ParamStore } from './params.ts';

export interface MlpConfig {
  /** block-name prefix, e.g. "enc" gives enc.0.W, enc.0.b, ... */
  name: string;
  /** layer widths, input first: [784, 400] is one layer */
  sizes: readonly number[];
  /** activation of every layer but the last */
  hiddenAct: Activation;
  /** activation of the last layer */
  outAct: Activation;
}

export interface BackwardOptions {
  /** where dLoss/dInput goes; omitted when the input is data */
  dInput?: Tensor;
  /** dInput += instead of = */
  accumulateInput?: boolean;
  /** false: propagate through the layers without touching their gradients */
  paramGrads?: boolean;
}

interface Layer {
  inDim: number;
  outDim: number;
  act: Activation;
  w: string;
  b: string;
}

export class Mlp {
  readonly layers: Layer[];
  private store: ParamStore | null = null;
  private capacity = 0;
  /** outputs per layer */
  private h: Tensor[] = [];
  /** dLoss/d(output) of every layer but the last (the caller owns that one) */
  private dh: Tensor[] = [];
  /** dLoss/d(pre-activation) for layers with a non-identity activation */
  private g: (Tensor | null)[] = [];

  constructor(readonly backend: Backend, readonly cfg: MlpConfig, layout: ParamLayout) {
    need(cfg.sizes.length >= 2, 'Mlp', `${cfg.name} needs at least an input and an output size, got [${cfg.sizes.join(', ')}]`);
    for (const s of cfg.sizes) need(Number.isInteger(s) && s > 0, 'Mlp', `${cfg.name}: layer sizes must be positive integers, got [${cfg.sizes.join(', ')}]`);
    this.layers = [];
    for (let l = 0; l + 1 < cfg.sizes.length; l++) {
      const inDim = cfg.sizes[l]!;
      const outDim = cfg.sizes[l + 1]!;
      const last = l + 2 === cfg.sizes.length;
      const w = `${cfg.name}.${l}.W`;
      const b = `${cfg.name}.${l}.b`;
      layout.add(w, [inDim, outDim]);
      layout.add(b, [outDim]);
      this.layers.push({ inDim, outDim, act: last ? cfg.outAct : cfg.hiddenAct, w, b });
    }
  }

  get inDim(): number { return this.cfg.sizes[0]!; }
  get outDim(): number { return this.cfg.sizes[this.cfg.sizes.length - 1]!; }

  /** PyTorch's nn.Linear default: W and b uniform in ±1/√in. */
  initHost(host: Float32Array, layout: ParamLayout, rng: HostRng): void {
    for (const L of this.layers) {
      const bound = 1 / Math.sqrt(L.inDim);
      for (const name of [L.w, L.b]) {
        const a = layout.slice(host, name);
        for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
      }
    }
  }

  bind(store: ParamStore): void {
    this.store = store;
  }

  private params(): ParamStore {
    need(this.store !== null, 'Mlp', `${this.cfg.name} is not bound to a parameter store`);
    return this.store;
  }

  /** Makes room for `rows` rows of activations. */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.releaseBuffers();
    const be = this.backend;
    const name = this.cfg.name;
    this.h = this.layers.map((L, l) => be.tensor(rows * L.outDim, { label: `${name}.${l}.out` }));
    this.dh = this.layers.slice(0, -1).map((L, l) => be.tensor(rows * L.outDim, { label: `${name}.${l}.dout` }));
    this.g = this.layers.map((L, l) => (L.act === 'identity' ? null : be.tensor(rows * L.outDim, { label: `${name}.${l}.dpre` })));
    this.capacity = rows;
  }

  /** The last forward's output (rows×outDim). */
  get output(): Tensor {
    need(this.h.length > 0, 'Mlp', `${this.cfg.name}: no forward pass yet`);
    return this.h[this.h.length - 1]!;
  }

  forward(x: Tensor, rows: number): Tensor {
    this.reserve(rows);
    const ps = this.params();
    let input = x;
    this.layers.forEach((L, l) => {
      this.backend.matmul({
        a: input, b: ps.param(L.w), c: this.h[l]!, bias: ps.param(L.b),
        m: rows, n: L.outDim, k: L.inDim, act: L.act,
      });
      input = this.h[l]!;
    });
    return this.output;
  }

  /** Backward of the last forward(x, rows): dOut is dLoss/d(output), rows×outDim. */
  backward(x: Tensor, rows: number, dOut: Tensor, opts: BackwardOptions = {}): void {
    need(rows <= this.capacity, 'Mlp', `${this.cfg.name}.backward: ${rows} rows, but the forward pass held ${this.capacity}`);
    const ps = this.params();
    const be = this.backend;
    const paramGrads = opts.paramGrads ?? true;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const L = this.layers[l]!;
      const dy = l === this.layers.length - 1 ? dOut : this.dh[l]!;
      let g = dy;
      if (L.act !== 'identity') {
        g = this.g[l]!;
        be.activationBackward({ y: this.h[l]!, dy, dx: g, n: rows * L.outDim, act: L.act });
      }
      const input = l === 0 ? x : this.h[l - 1]!;
      if (paramGrads) {
        const w = ps.gradTarget(L.w);
        be.matmul({ a: input, b: g, c: w.grad, m: L.inDim, n: L.outDim, k: rows, transA: true, accumulate: w.accumulate });
        const bias = ps.gradTarget(L.b);
        be.sumCols({ x: g, out: bias.grad, rows, cols: L.outDim, accumulate: bias.accumulate });
      }
      if (l > 0) {
        be.matmul({ a: g, b: ps.param(L.w), c: this.dh[l - 1]!, m: rows, n: L.inDim, k: L.outDim, transB: true });
      } else if (opts.dInput) {
        be.matmul({
          a: g, b: ps.param(L.w), c: opts.dInput, m: rows, n: L.inDim, k: L.outDim, transB: true,
          accumulate: opts.accumulateInput ?? false,
        });
      }
    }
  }

  releaseBuffers(): void {
    for (const t of [...this.h, ...this.dh, ...this.g]) if (t) this.backend.release(t);
    this.h = [];
    this.dh = [];
    this.g = [];
    this.capacity = 0;
  }
}

/**
 * A trunk MLP (hidden layers) followed by parallel single-layer heads reading
 * its output, e.g. an encoder's (mean, log-variance) or a decoder's
 * (mean, log-variance). An empty trunk feeds the input straight to the heads.
 */
export class HeadedMlp {
  readonly trunk: Mlp | null;
  readonly heads: Mlp[];
  private capacity = 0;
  private dTrunk: Tensor | null = null;

  constructor(
    readonly backend: Backend,
    name: string,
    inDim: number,
    hidden: readonly number[],
    hiddenAct: Activation,
    heads: readonly { name: string; dim: number; act?: Activation }[],
    layout: ParamLayout,
  ) {
    need(heads.length > 0, 'HeadedMlp', `${name} needs at least one head`);
    this.trunk = hidden.length > 0
      ? new Mlp(backend, { name, sizes: [inDim, ...hidden], hiddenAct, outAct: hiddenAct }, layout)
      : null;
    const top = hidden.length > 0 ? hidden[hidden.length - 1]! : inDim;
    this.heads = heads.map((h) => new Mlp(backend, {
      name: `${name}.${h.name}`, sizes: [top, h.dim], hiddenAct: 'identity', outAct: h.act ?? 'identity',
    }, layout));
  }

  initHost(host: Float32Array, layout: ParamLayout, rng: HostRng): void {
    this.trunk?.initHost(host, layout, rng);
    for (const h of this.heads) h.initHost(host, layout, rng);
  }

  bind(store: ParamStore): void {
    this.trunk?.bind(store);
    for (const h of this.heads) h.bind(store);
  }

  reserve(rows: number): void {
    this.trunk?.reserve(rows);
    for (const h of this.heads) h.reserve(rows);
    if (rows > this.capacity && this.trunk) {
      if (this.dTrunk) this.backend.release(this.dTrunk);
      this.dTrunk = this.backend.tensor(rows * this.trunk.outDim, { label: `${this.trunk.cfg.name}.dtop` });
    }
    this.capacity = Math.max(this.capacity, rows);
  }

  /** Head outputs, in the order the heads were declared. */
  forward(x: Tensor, rows: number): Tensor[] {
    this.reserve(rows);
    const top = this.trunk ? this.trunk.forward(x, rows) : x;
    return this.heads.map((h) => h.forward(top, rows));
  }

  /** dHeads[i] = dLoss/d(head i output); a null entry means that head gets no gradient. */
  backward(x: Tensor, rows: number, dHeads: readonly (Tensor | null)[], opts: BackwardOptions = {}): void {
    need(dHeads.length === this.heads.length, 'HeadedMlp', `${dHeads.length} head gradients for ${this.heads.length} heads`);
    const top = this.trunk ? this.trunk.output : x;
    const dTop = this.trunk ? this.dTrunk! : opts.dInput;
    let first = true;
    this.heads.forEach((h, i) => {
      const d = dHeads[i];
      if (!d) return;
      h.backward(top, rows, d, {
        dInput: dTop,
        accumulateInput: this.trunk ? !first : (opts.accumulateInput ?? false) || !first,
        paramGrads: opts.paramGrads,
      });
      first = false;
    });
    need(!first, 'HeadedMlp', 'backward needs at least one head gradient');
    if (this.trunk) this.trunk.backward(x, rows, this.dTrunk!, opts);
  }

  releaseBuffers(): void {
    this.trunk?.releaseBuffers();
    for (const h of this.heads) h.releaseBuffers();
    if (this.dTrunk) this.backend.release(this.dTrunk);
    this.dTrunk = null;
    this.capacity = 0;
  }
}
