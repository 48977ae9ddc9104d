// Image grids as 8-bit grayscale pixels, platform-neutral (the browser draws the
// same arrays onto a canvas; src/report/png.node.ts encodes them as PNG).

export interface GrayImage {
  width: number;
  height: number;
  /** row-major, 0 = black, 255 = white */
  pixels: Uint8Array;
}

export interface GridOptions {
  /** image height and width (MNIST: 28) */
  side: number;
  cols: number;
  /** gap between tiles, pixels */
  pad?: number;
  /** gray level of the gaps */
  background?: number;
}

/**
 * Tiles `count` images of side×side values (row-major, one after another in
 * `values`), clamped to [0, 1] and shown white-on-black like MNIST.
 */
export function imageGrid(values: Float32Array, count: number, o: GridOptions): GrayImage {
  const side = o.side;
  const pad = o.pad ?? 2;
  const cols = Math.max(1, Math.min(o.cols, count));
  const rows = Math.max(1, Math.ceil(count / cols));
  const width = cols * side + (cols + 1) * pad;
  const height = rows * side + (rows + 1) * pad;
  const pixels = new Uint8Array(width * height).fill(o.background ?? 64);
  if (values.length < count * side * side) throw new Error(`imageGrid: ${values.length} values for ${count} images of ${side}×${side}`);
  for (let k = 0; k < count; k++) {
    const r0 = pad + Math.floor(k / cols) * (side + pad);
    const c0 = pad + (k % cols) * (side + pad);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = values[k * side * side + y * side + x]!;
        const g = Number.isFinite(v) ? Math.round(255 * Math.min(1, Math.max(0, v))) : 0;
        pixels[(r0 + y) * width + c0 + x] = g;
      }
    }
  }
  return { width, height, pixels };
}

/** Pairs originals and reconstructions: each original followed by its reconstruction, pairs per row = cols/2. */
export function interleaveRows(a: Float32Array, b: Float32Array, count: number, D: number): Float32Array {
  const out = new Float32Array(2 * count * D);
  for (let i = 0; i < count; i++) {
    out.set(a.subarray(i * D, (i + 1) * D), 2 * i * D);
    out.set(b.subarray(i * D, (i + 1) * D), (2 * i + 1) * D);
  }
  return out;
}
