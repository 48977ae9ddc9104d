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

/**
 * A batch gathered from rows held in several buffers: per buffer the local indices of
 * its rows and their positions in the batch (one u32 plan tensor, each list padded to
 * VIEW_ALIGN); each buffer's rows are gathered into a scratch and scattered to their
 * places, so the batch equals a one-buffer gather bit for bit.
 */
export class GroupedGather {
  private plan: Tensor | null = null;
  private scratch: Tensor | null = null;
  private at: { k: number; local: Tensor; pos: Tensor; m: number }[] = [];

  constructor(readonly backend: Backend, readonly D: number) {}

  /** Groups the batch's indices (`host`, first `rows`) by `bufferOf`(i) → [buffer k, local index] and uploads the plan. */
  prepare(host: ArrayLike<number>, rows: number, buffers: number, bufferOf: (i: number) => [number, number]): number[] {
    const groups: { local: number[]; pos: number[] }[] = Array.from({ length: buffers }, () => ({ local: [], pos: [] }));
    for (let r = 0; r < rows; r++) {
      const [k, local] = bufferOf(host[r]!);
      groups[k]!.local.push(local);
      groups[k]!.pos.push(r);
    }
    const pad = (m: number) => Math.ceil(m / VIEW_ALIGN) * VIEW_ALIGN;
    const total = groups.reduce((s, g) => s + 2 * pad(g.local.length), 0);
    const plan = new Uint32Array(Math.max(1, total));
    this.plan = this.grow(this.plan, plan.length, 'u32', 'rows.plan');
    this.scratch = this.grow(this.scratch, rows * this.D, 'f32', 'rows.scratch');
    this.at = [];
    let o = 0;
    groups.forEach((g, k) => {
      const m = g.local.length;
      if (m === 0) return;
      plan.set(g.local, o);
      plan.set(g.pos, o + pad(m));
      this.at.push({ k, m, local: this.backend.view(this.plan!, o, m, 'rows.local'), pos: this.backend.view(this.plan!, o + pad(m), m, 'rows.pos') });
      o += 2 * pad(m);
    });
    this.backend.upload(this.plan, plan);
    return this.at.map((g) => g.k);
  }

  /** the rows of buffer k (one of those prepare returned) from src into their places in dst */
  run(k: number, src: Tensor, dst: Tensor): void {
    const g = this.at.find((a) => a.k === k);
    need(g !== undefined, 'GroupedGather', `buffer ${k} holds none of the batch's rows`);
    this.backend.gatherRows({ src, idx: g.local, dst: this.scratch!, rows: g.m, cols: this.D });
    this.backend.scatterRows({ src: this.scratch!, idx: g.pos, dst, rows: g.m, cols: this.D });
  }

  private grow(t: Tensor | null, length: number, dtype: 'f32' | 'u32', label: string): Tensor {
    if (t && t.length >= length) return t;
    if (t) this.backend.release(t);
    return this.backend.tensor(Math.max(1, length), { dtype, label });
  }

  release(): void {
    if (this.plan) this.backend.release(this.plan);
    if (this.scratch) this.backend.release(this.scratch);
    this.plan = this.scratch = null;
  }
}

export class DeviceRows {
  readonly parts: Part[] = [];
  private readonly grouped: GroupedGather;

  constructor(readonly backend: Backend, x: Float32Array, readonly n: number, readonly D: number, label: string, chunkRows?: number) {
    need(x.length === n * D, label, `${x.length} values are not ${n} rows of ${D}`);
    this.grouped = new GroupedGather(backend, D);
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
    const one = this.single;
    if (one) {
      this.backend.gatherRows({ src: one, idx, dst, rows, cols: this.D });
      return;
    }
    if (!host) throw new KernelError('DeviceRows', `the rows are in ${this.parts.length} device buffers and this caller gave no host copy of the indices`);
    const R = this.parts[0]!.rows;
    const used = this.grouped.prepare(host, rows, this.parts.length, (i) => {
      need(Number.isInteger(i) && i >= 0 && i < this.n, 'DeviceRows', `row index ${i} is outside the ${this.n} rows`);
      const k = Math.floor(i / R);
      return [k, i - this.parts[k]!.r0];
    });
    for (const k of used) this.grouped.run(k, this.parts[k]!.x, dst);
  }

  release(): void {
    for (const p of this.parts) this.backend.release(p.x);
    this.grouped.release();
  }
}
