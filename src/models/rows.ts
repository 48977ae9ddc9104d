// Training and evaluation rows on the device, in as many buffers as the
// adapter's storage-binding limit needs (backend.ts dataChunkRows). One buffer:
// a plain gatherRows with the device indices. Several: the batch's rows are
// gathered part by part (host indices split by part) and scattered to their
// places in the batch, so the batch is bit-identical to the one-buffer gather.
import { KernelError, VIEW_ALIGN, dataChunkRows, need, type Backend, type Tensor } from '../backend.ts';

interface Part {
  x: Tensor;
  r0: number;
  rows: number;
}

export class DeviceRows {
  readonly parts: Part[] = [];
  /** u32: per part its local row indices then their positions in the batch, each padded to VIEW_ALIGN */
  private plan: Tensor | null = null;
  private scratch: Tensor | null = null;

  constructor(readonly backend: Backend, x: Float32Array, readonly n: number, readonly D: number, label: string, chunkRows?: number) {
    need(x.length === n * D, label, `${x.length} values are not ${n} rows of ${D}`);
    const R = n === 0 ? 1 : Math.min(n, dataChunkRows(backend, D, { override: chunkRows }));
    if (n === 0) this.parts.push({ x: backend.tensor(Math.max(1, D), { label }), r0: 0, rows: 0 });
    for (let r0 = 0; r0 < n; r0 += R) {
      const rows = Math.min(R, n - r0);
      const name = R >= n ? label : `${label}[${this.parts.length}]`;
      this.parts.push({ x: backend.tensor(rows * D, { label: name, data: x.subarray(r0 * D, (r0 + rows) * D) }), r0, rows });
    }
  }

  /** the rows in one buffer, or null when they are in several */
  get single(): Tensor | null {
    return this.parts.length === 1 ? this.parts[0]!.x : null;
  }

  /**
   * dst (rows×D) = the rows `idx` names (u32 on the device). With several parts the same
   * indices are needed on the host (`host`, the first `rows` are used).
   */
  gather(idx: Tensor, host: ArrayLike<number> | undefined, dst: Tensor, rows: number): void {
    const be = this.backend;
    const { D } = this;
    const one = this.single;
    if (one) {
      be.gatherRows({ src: one, idx, dst, rows, cols: D });
      return;
    }
    if (!host) throw new KernelError('DeviceRows', `the rows are in ${this.parts.length} device buffers and this caller gave no host copy of the indices`);
    const R = this.parts[0]!.rows;
    const groups: { local: number[]; pos: number[] }[] = this.parts.map(() => ({ local: [], pos: [] }));
    for (let r = 0; r < rows; r++) {
      const i = host[r]!;
      need(Number.isInteger(i) && i >= 0 && i < this.n, 'DeviceRows', `row index ${i} is outside the ${this.n} rows`);
      const k = Math.floor(i / R);
      groups[k]!.local.push(i - this.parts[k]!.r0);
      groups[k]!.pos.push(r);
    }
    const pad = (m: number) => Math.ceil(m / VIEW_ALIGN) * VIEW_ALIGN;
    const total = groups.reduce((s, g) => s + 2 * pad(g.local.length), 0);
    const plan = new Uint32Array(Math.max(1, total));
    const at: [number, number, number][] = [];
    let o = 0;
    groups.forEach((g, k) => {
      if (g.local.length === 0) return;
      plan.set(g.local, o);
      plan.set(g.pos, o + pad(g.local.length));
      at.push([k, o, g.local.length]);
      o += 2 * pad(g.local.length);
    });
    this.plan = this.grow(this.plan, plan.length, 'u32', 'rows.plan');
    this.scratch = this.grow(this.scratch, rows * D, 'f32', 'rows.scratch');
    be.upload(this.plan, plan);
    for (const [k, off, m] of at) {
      const local = be.view(this.plan, off, m, 'rows.local');
      const pos = be.view(this.plan, off + pad(m), m, 'rows.pos');
      be.gatherRows({ src: this.parts[k]!.x, idx: local, dst: this.scratch, rows: m, cols: D });
      be.scatterRows({ src: this.scratch, idx: pos, dst, rows: m, cols: D });
    }
  }

  private grow(t: Tensor | null, length: number, dtype: 'f32' | 'u32', label: string): Tensor {
    if (t && t.length >= length) return t;
    if (t) this.backend.release(t);
    return this.backend.tensor(Math.max(1, length), { dtype, label });
  }

  release(): void {
    for (const p of this.parts) this.backend.release(p.x);
    if (this.plan) this.backend.release(this.plan);
    if (this.scratch) this.backend.release(this.scratch);
  }
}
