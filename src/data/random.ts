// A small seeded generator for data synthesis (not for kernels): mulberry32
// for uniforms, Box–Muller for normals. Same stream on every platform.

export interface SeededRandom {
  /** uniform in [0, 1) */
  uniform(): number;
  /** standard normal */
  normal(): number;
}

export function seededRandom(seed: number): SeededRandom {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | null = null;
  const normal = (): number => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    // 1 − u keeps the logarithm's argument in (0, 1]
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const a = 2 * Math.PI * uniform();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
  return { uniform, normal };
}
