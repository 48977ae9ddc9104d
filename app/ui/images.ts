// Grids of vectors drawn as grey-scale images on a canvas: square D (MNIST's 784)
// as s×s pictures, any other D as a horizontal strip per vector.

export type Scaling =
  /** values in [0,1] (pixel intensities), clamped */
  | 'unit'
  /** min..max over the whole grid mapped to black..white */
  | 'range'
  /** each image on its own, symmetric around 0 (0 is mid grey): loadings */
  | 'signed';

export interface ImageShape { w: number; h: number }

export function imageShape(D: number): ImageShape {
  const s = Math.round(Math.sqrt(D));
  if (s * s === D) return { w: s, h: s };
  return { w: D, h: Math.max(2, Math.round(D / 6)) };
}

/**
 * Draws `count` vectors of length D (NaN drawn red with `nanRed`) from data (row-major, or column-major when
 * `columns` is set: W's columns are strided by d) into a grid with `cols` images per row.
 */
export function drawGrid(
  canvas: HTMLCanvasElement,
  data: Float32Array,
  count: number,
  D: number,
  opts: { cols?: number; scaling?: Scaling; columns?: boolean; nanRed?: boolean } = {},
): void {
  const { w, h } = imageShape(D);
  const cols = Math.max(1, Math.min(opts.cols ?? 8, count));
  const rows = Math.max(1, Math.ceil(count / cols));
  const gap = 1;
  canvas.width = cols * (w + gap) - gap;
  canvas.height = rows * (h + gap) - gap;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(canvas.width, canvas.height);
  const at = (k: number, j: number): number => (opts.columns ? data[j * count + k]! : data[k * D + j]!);
  const scaling = opts.scaling ?? 'unit';
  let lo = 0;
  let hi = 1;
  if (scaling === 'range') {
    lo = Infinity;
    hi = -Infinity;
    for (let k = 0; k < count; k++) for (let j = 0; j < D; j++) {
      const v = at(k, j);
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!(hi > lo)) { lo -= 0.5; hi = lo + 1; }
  }
  // the gaps stay dark grey so a blank grid is still visibly a grid
  for (let p = 0; p < img.data.length; p += 4) {
    img.data[p] = img.data[p + 1] = img.data[p + 2] = 40;
    img.data[p + 3] = 255;
  }
  for (let k = 0; k < count; k++) {
    let kLo = lo;
    let kHi = hi;
    if (scaling === 'signed') {
      let m = 0;
      for (let j = 0; j < D; j++) m = Math.max(m, Math.abs(at(k, j)));
      kLo = -(m || 1);
      kHi = m || 1;
    }
    const ox = (k % cols) * (w + gap);
    const oy = Math.floor(k / cols) * (h + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const j = w * h === D ? y * w + x : x;
        const v = at(k, j);
        const t = Number.isFinite(v) ? Math.min(1, Math.max(0, (v - kLo) / (kHi - kLo))) : 0;
        const p = ((oy + y) * canvas.width + ox + x) * 4;
        const g = Math.round(t * 255);
        img.data[p] = img.data[p + 1] = img.data[p + 2] = g;
        // a missing entry
        if (opts.nanRed && Number.isNaN(v)) {
          img.data[p] = 220;
          img.data[p + 1] = img.data[p + 2] = 30;
        }
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

export function clearCanvas(canvas: HTMLCanvasElement): void {
  canvas.width = 1;
  canvas.height = 1;
}
