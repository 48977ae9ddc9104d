// One flat parameter buffer carved into named blocks (llm.c style): one upload,
// one optimizer dispatch over everything, one checkpoint tensor. Gradients and
// optimizer moments mirror the same layout. Every block starts at a multiple of
// VIEW_ALIGN so it can be bound as a view.
import { VIEW_ALIGN, need, type Backend, type Tensor } from '../backend.ts';

export interface ParamBlock {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  readonly shape: readonly number[];
}

export class ParamLayout {
  private readonly blocks = new Map<string, ParamBlock>();
  private end = 0;

  /** Reserves a block; returns it. Names are unique. */
  add(name: string, shape: readonly number[]): ParamBlock {
    need(!this.blocks.has(name), 'ParamLayout', `block '${name}' is defined twice`);
    const length = shape.reduce((a, b) => a * b, 1);
    need(Number.isInteger(length) && length > 0, 'ParamLayout', `block '${name}' has shape [${shape.join(', ')}]`);
    const offset = Math.ceil(this.end / VIEW_ALIGN) * VIEW_ALIGN;
    const block: ParamBlock = { name, offset, length, shape: [...shape] };
    this.blocks.set(name, block);
    this.end = offset + length;
    return block;
  }

  get(name: string): ParamBlock {
    const b = this.blocks.get(name);
    need(b !== undefined, 'ParamLayout', `no block '${name}' (have ${[...this.blocks.keys()].join(', ')})`);
    return b;
  }

  list(): ParamBlock[] {
    return [...this.blocks.values()];
  }

  /** total elements, padding included */
  get size(): number {
    return Math.max(VIEW_ALIGN, Math.ceil(this.end / VIEW_ALIGN) * VIEW_ALIGN);
  }

  /** number of trainable values (padding excluded) */
  get count(): number {
    let s = 0;
    for (const b of this.blocks.values()) s += b.length;
    return s;
  }

  /** A host array of this layout, padding zero. */
  zeros(): Float32Array {
    return new Float32Array(this.size);
  }

  /** Block `name` of a host array of this layout. */
  slice(host: Float32Array, name: string): Float32Array {
    const b = this.get(name);
    return host.subarray(b.offset, b.offset + b.length);
  }
}

/** Parameters and their gradients on a backend, with a view per block. */
export class ParamStore {
  readonly params: Tensor;
  readonly grads: Tensor;
  private readonly paramViews = new Map<string, Tensor>();
  private readonly gradViews = new Map<string, Tensor>();
  /** blocks not written since zeroGrads (none before the first: adding to the zero-initialised buffer is right) */
  private unwritten = new Set<string>();

  constructor(readonly backend: Backend, readonly layout: ParamLayout, initial: Float32Array, label = 'params') {
    need(initial.length === layout.size, 'ParamStore', `initial values have ${initial.length} elements, the layout ${layout.size}`);
    this.params = backend.tensor(layout.size, { label, data: initial });
    this.grads = backend.tensor(layout.size, { label: `${label}.grad` });
    for (const b of layout.list()) {
      this.paramViews.set(b.name, backend.view(this.params, b.offset, b.length, b.name));
      this.gradViews.set(b.name, backend.view(this.grads, b.offset, b.length, `d${b.name}`));
    }
  }

  param(name: string): Tensor {
    const t = this.paramViews.get(name);
    need(t !== undefined, 'ParamStore', `no parameter block '${name}'`);
    return t;
  }

  grad(name: string): Tensor {
    const t = this.gradViews.get(name);
    need(t !== undefined, 'ParamStore', `no gradient block '${name}'`);
    return t;
  }

  /**
   * Starts a step's gradient: no device work. The first kernel writing a block
   * after this (gradTarget) overwrites it instead of adding to zeros, and
   * finishGrads zeroes only the blocks nobody wrote. On llvmpipe the zero fill
   * (0.35–0.5 ms) and the accumulating read of C in the two 784×400 weight
   * gradients (~1.5 ms each, storage loads being per-lane loops there) were 7%
   * of a classic VAE step (bench/vae-breakdown.ts).
   */
  zeroGrads(): void {
    this.unwritten = new Set(this.gradViews.keys());
  }

  /**
   * The gradient view of block `name` for a kernel that adds its contribution,
   * and whether it must accumulate (false for the first write since zeroGrads).
   */
  gradTarget(name: string): { grad: Tensor; accumulate: boolean } {
    const grad = this.grad(name);
    const accumulate = !this.unwritten.delete(name);
    return { grad, accumulate };
  }

  /** Zeroes the blocks no kernel wrote since zeroGrads; call before grads are read. */
  finishGrads(): void {
    for (const name of this.unwritten) {
      const b = this.layout.get(name);
      this.backend.fill({ x: this.grad(name), n: b.length, value: 0 });
    }
    this.unwritten.clear();
  }

  release(): void {
    this.backend.release(this.params);
    this.backend.release(this.grads);
  }
}
