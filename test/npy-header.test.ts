// encodeNpyHeader: the header that files written a slice at a time start with
// (bench/full-size.ts, bench/ppca-file.ts) is encodeNpy's own and parses back.
import { describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpyHeader, parseNpy, parseNpyHeader } from '../src/data/npy.ts';

describe('encodeNpyHeader', () => {
  it('is the prefix encodeNpy writes, 64-byte aligned, for shapes of every digit count', () => {
    for (const [n, D] of [[0, 3], [1, 1], [7, 5], [70_000, 784], [123_456_789, 3_072], [9, 1_000_000]] as const) {
      const head = encodeNpyHeader(n, D);
      expect(head.length % 64).toBe(0);
      const parsed = parseNpyHeader(head);
      expect(parsed.shape).toEqual([n, D]);
      if (n > 0 && n * D < 100) {
        const x = Float32Array.from({ length: n * D }, (_, i) => i * 0.5 - 3);
        const whole = encodeNpy(x, n, D);
        expect(whole.subarray(0, head.length)).toEqual(head);
        const rows = new Uint8Array(x.buffer);
        const joined = new Uint8Array(head.length + rows.length);
        joined.set(head);
        joined.set(rows, head.length);
        expect(Array.from(parseNpy(joined).x)).toEqual(Array.from(x));
      }
    }
  });
});
