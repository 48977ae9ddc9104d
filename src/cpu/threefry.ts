// Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011; the Random123 library; JAX's default PRNG). Only u32
// add, rotate and xor, so shaders/random.wgsl runs the identical function.
// Checked against Random123's tests/kat_vectors (test/random.test.ts).

/** Rotation constants R_32x2 of the Random123 specification, used round r mod 8. */
export const THREEFRY_ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const;
/** Key-schedule parity constant of Threefish / Random123 for 32-bit words. */
export const THREEFRY_PARITY = 0x1bd11bda;
export const THREEFRY_ROUNDS = 20;

function rotl32(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/**
 * Encrypts the counter block (c0, c1) under the key (k0, k1); writes the two
 * output words to out[at], out[at + 1] and returns nothing, so hot loops do not
 * allocate.
 */
export function threefry2x32Into(k0: number, k1: number, c0: number, c1: number, out: Uint32Array, at: number): void {
  const ks0 = k0 >>> 0;
  const ks1 = k1 >>> 0;
  const ks2 = (THREEFRY_PARITY ^ ks0 ^ ks1) >>> 0;
  let x0 = (c0 + ks0) >>> 0;
  let x1 = (c1 + ks1) >>> 0;
  for (let r = 0; r < THREEFRY_ROUNDS; r++) {
    x0 = (x0 + x1) >>> 0;
    x1 = rotl32(x1, THREEFRY_ROTATIONS[r & 7]!) ^ x0;
    if ((r & 3) === 3) {
      // key injection s after every four rounds: ks[s], ks[s+1] + s (indices mod 3)
      const s = (r + 1) >> 2;
      const ka = s % 3 === 0 ? ks0 : s % 3 === 1 ? ks1 : ks2;
      const kb = s % 3 === 0 ? ks1 : s % 3 === 1 ? ks2 : ks0;
      x0 = (x0 + ka) >>> 0;
      x1 = (x1 + kb + s) >>> 0;
    }
  }
  out[at] = x0 >>> 0;
  out[at + 1] = x1 >>> 0;
}

/** Threefry-2x32-20 of one block: [word0, word1]. */
export function threefry2x32(key: readonly [number, number], ctr: readonly [number, number]): [number, number] {
  const out = new Uint32Array(2);
  threefry2x32Into(key[0], key[1], ctr[0], ctr[1], out, 0);
  return [out[0]!, out[1]!];
}
