// wgsl_reflect's race detector (DESIGN §5) on one workgroup of a kernel. Its
// interpreter cannot size a workgroup array by an override constant, so the
// array length is written in as the same number the override gets here.
import { detectRaces } from 'wgsl_reflect/wgsl_reflect.module.js';
import '../src/gpu/shaders.node.ts';
import { shaderSource } from '../src/gpu/shaders.ts';

export interface RaceRun {
  races: number;
  errors: string[];
}

/**
 * Runs `entry` of shaders/<family>.wgsl (or `code` when given) for one
 * workgroup with constants {WG, ...}; bindings by number; returns the race count.
 */
export function raceCheck(family: string, entry: string, constants: Record<string, number> & { WG: number },
  bindings: Record<number, ArrayBufferView>, code = shaderSource(family)): RaceRun {
  const specialized = code.replace(/array<f32,\s*WG>/g, `array<f32, ${constants.WG}>`);
  const groups: Record<string, ArrayBufferView> = {};
  for (const [b, v] of Object.entries(bindings)) groups[b] = v;
  const r = detectRaces(specialized, entry, [1, 1, 1], { 0: groups }, { constants });
  return { races: r.races.length, errors: r.errors };
}
