// A first-fit free-list allocator over the bytes of one WebAssembly.Memory.
// Blocks are multiples of ALIGN bytes (VIEW_ALIGN floats, so tensor views and
// SIMD loads are aligned); freed blocks coalesce with their neighbours, so a
// training loop that allocates and releases the same sizes reuses the same
// bytes and the memory stops growing after the first step.
import { KernelError } from '../backend.ts';

export const ALIGN = 256;
const PAGE = 65536;

interface Block { offset: number; size: number }

export class Arena {
  /** free blocks sorted by offset, never adjacent (coalesced) */
  private free: Block[] = [];
  private readonly used = new Map<number, number>();
  /** bytes handed out */
  inUse = 0;

  constructor(private readonly memory: WebAssembly.Memory, base: number, private readonly maxPages: number) {
    const start = Math.ceil(base / ALIGN) * ALIGN;
    const end = memory.buffer.byteLength;
    if (end > start) this.free.push({ offset: start, size: end - start });
  }

  /** Byte offset of a fresh block of at least `bytes` bytes. */
  alloc(bytes: number, what: string): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let i = this.free.findIndex((b) => b.size >= size);
    if (i < 0) i = this.grow(size, what);
    const b = this.free[i]!;
    const offset = b.offset;
    if (b.size === size) this.free.splice(i, 1);
    else {
      b.offset += size;
      b.size -= size;
    }
    this.used.set(offset, size);
    this.inUse += size;
    return offset;
  }

  release(offset: number): void {
    const size = this.used.get(offset);
    if (size === undefined) throw new KernelError('release', `no block allocated at byte ${offset}`);
    this.used.delete(offset);
    this.inUse -= size;
    // insert sorted, then merge with the neighbours
    let i = 0;
    while (i < this.free.length && this.free[i]!.offset < offset) i++;
    this.free.splice(i, 0, { offset, size });
    const next = this.free[i + 1];
    if (next && offset + size === next.offset) {
      this.free[i]!.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.offset + prev.size === offset) {
      prev.size += this.free[i]!.size;
      this.free.splice(i, 1);
    }
  }

  /** Grows the memory so a block of `size` fits at its end; returns that free block's index. */
  private grow(size: number, what: string): number {
    const end = this.memory.buffer.byteLength;
    const last = this.free[this.free.length - 1];
    const tailFree = last && last.offset + last.size === end ? last.size : 0;
    const pagesNow = end / PAGE;
    // at least double-ish growth amortizes the copies a non-shared memory makes
    const needPages = Math.ceil((size - tailFree) / PAGE);
    const pages = Math.min(this.maxPages - pagesNow, Math.max(needPages, Math.ceil(pagesNow / 4)));
    if (pages < needPages) {
      throw new KernelError('tensor', `out of WebAssembly memory allocating ${size} bytes for '${what}' ` +
        `(${pagesNow * PAGE} of at most ${this.maxPages * PAGE} bytes in use or reserved)`);
    }
    this.memory.grow(pages);
    const added = pages * PAGE;
    if (tailFree > 0) last!.size += added;
    else this.free.push({ offset: end, size: added });
    return this.free.length - 1;
  }
}
