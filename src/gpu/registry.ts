// Kernel registry: WGSL entry points become pipelines whose bind-group layout and
// uniform-parameter layout come from wgsl_reflect. A kernel is dispatched with
// named tensors and named parameters; a missing, misnamed, mistyped or oversized
// binding is an error naming the kernel, before anything reaches the GPU.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { KernelError, need, type DType } from '../backend.ts';
import { shaderSource } from './shaders.ts';

export interface StorageBinding {
  name: string;
  binding: number;
  access: 'read' | 'read_write';
  /** element type of the runtime array: f32, u32, i32, vec4 ... */
  elem: string;
  /** bytes per array element */
  stride: number;
}
export interface ParamMember {
  name: string;
  offset: number;
  type: 'u32' | 'i32' | 'f32';
}
/** A sampled 2-D float texture read with textureLoad (matmul stages operands in them: on llvmpipe texel fetches are far cheaper than storage-buffer loads). */
export interface TextureBinding {
  name: string;
  binding: number;
}
export interface UniformBinding {
  name: string;
  binding: number;
  size: number;
  members: ParamMember[];
}

export interface Kernel {
  /** family.entry[:constants] — how errors name it */
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly storage: StorageBinding[];
  readonly uniform: UniformBinding | null;
  readonly textures: TextureBinding[];
  readonly workgroupSize: [number, number, number];
}

interface ReflectedVar {
  name: string;
  binding: number;
  group: number;
  resourceType: number;
  access: string;
  size: number;
  type: {
    name: string;
    size?: number;
    format?: { name: string; size?: number };
    members?: { name: string; offset: number; size: number; type: { name: string } }[];
    stride?: number;
  };
}

const ELEM_BYTES: Record<string, number> = { f32: 4, u32: 4, i32: 4, vec2: 8, vec4: 16, vec2f: 8, vec4f: 16, vec4u: 16 };

function parseResources(kernel: string, vars: ReflectedVar[]): { storage: StorageBinding[]; uniform: UniformBinding | null; textures: TextureBinding[] } {
  const storage: StorageBinding[] = [];
  const textures: TextureBinding[] = [];
  let uniform: UniformBinding | null = null;
  for (const v of vars) {
    need(v.group === 0, kernel, `binding '${v.name}' is in group ${v.group}; kernels use group 0 only`);
    // wgsl_reflect ResourceType: 0 uniform, 1 storage, 3 texture
    if (v.resourceType === 0) {
      need(uniform === null, kernel, 'kernels take at most one uniform parameter struct');
      const members = (v.type.members ?? []).map((m) => {
        const t = m.type.name;
        need(t === 'u32' || t === 'i32' || t === 'f32', kernel, `parameter '${m.name}' has type ${t}; only scalars u32/i32/f32 are supported`);
        return { name: m.name, offset: m.offset, type: t as ParamMember['type'] };
      });
      uniform = { name: v.name, binding: v.binding, size: v.size, members };
    } else if (v.resourceType === 1) {
      const elem = v.type.format?.name ?? v.type.name;
      storage.push({
        name: v.name,
        binding: v.binding,
        access: v.access === 'read_write' ? 'read_write' : 'read',
        elem,
        stride: ELEM_BYTES[elem] ?? v.type.format?.size ?? 4,
      });
    } else if (v.resourceType === 3 && v.type.name === 'texture_2d' && v.type.format?.name === 'f32') {
      textures.push({ name: v.name, binding: v.binding });
    } else {
      throw new KernelError(kernel, `binding '${v.name}' is neither a uniform nor a storage buffer nor a texture_2d<f32>`);
    }
  }
  storage.sort((a, b) => a.binding - b.binding);
  return { storage, uniform, textures };
}

/** Compiles and caches kernels for one device. */
export class KernelRegistry {
  private readonly modules = new Map<string, { module: GPUShaderModule; reflect: WgslReflect }>();
  private readonly kernels = new Map<string, Kernel>();

  constructor(private readonly device: GPUDevice) {}

  /** The kernel `entry` of shaders/<family>.wgsl, with override constants. */
  get(family: string, entry: string, constants: Record<string, number> = {}): Kernel {
    const ckey = Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`).join(',');
    const name = ckey ? `${family}.${entry}[${ckey}]` : `${family}.${entry}`;
    const cached = this.kernels.get(name);
    if (cached) return cached;

    let mod = this.modules.get(family);
    if (!mod) {
      const code = shaderSource(family);
      mod = { module: this.device.createShaderModule({ label: family, code }), reflect: new WgslReflect(code) };
      this.modules.set(family, mod);
    }
    const ep = mod.reflect.entry.compute.find((e: { name: string }) => e.name === entry);
    need(ep, name, `shaders/${family}.wgsl has no compute entry point '${entry}'`);
    const { storage, uniform, textures } = parseResources(name, ep.resources as unknown as ReflectedVar[]);
    const entries: GPUBindGroupLayoutEntry[] = storage.map((s) => ({
      binding: s.binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s.access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    if (uniform) entries.push({ binding: uniform.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    for (const t of textures) entries.push({ binding: t.binding, visibility: GPUShaderStage.COMPUTE, texture: { sampleType: 'unfilterable-float' } });
    const layout = this.device.createBindGroupLayout({ label: name, entries });
    const pipeline = this.device.createComputePipeline({
      label: name,
      layout: this.device.createPipelineLayout({ label: name, bindGroupLayouts: [layout] }),
      compute: { module: mod.module, entryPoint: entry, constants },
    });
    const wg = (ep.workgroupSize ?? [1, 1, 1]) as [number, number, number];
    const k: Kernel = {
      name,
      pipeline,
      layout,
      storage,
      uniform,
      textures,
      workgroupSize: [
        constants.WG_X ?? constants.WG ?? wg[0],
        constants.WG_Y ?? wg[1] ?? 1,
        wg[2] ?? 1,
      ],
    };
    this.kernels.set(name, k);
    return k;
  }
}

/** What a dispatch binds: a GPU buffer region with its dtype. */
export interface BoundBuffer {
  buffer: GPUBuffer;
  /** bytes */
  byteOffset: number;
  byteLength: number;
  dtype: DType;
  label: string;
}

/** Validates a dispatch's named buffers against the kernel's bindings. */
export function checkBindings(k: Kernel, buffers: Record<string, BoundBuffer>, maxBinding: number): void {
  // messages as functions: this runs on every dispatch (tens per training step)
  for (const n of Object.keys(buffers)) {
    need(k.storage.some((s) => s.name === n), k.name,
      () => `unknown binding '${n}' (the kernel binds ${k.storage.map((s) => s.name).join(', ') || 'no buffers'})`);
  }
  for (const s of k.storage) {
    const b = buffers[s.name];
    need(b, k.name, () => `missing binding '${s.name}'`);
    need(b.byteLength > 0, k.name, () => `binding '${s.name}' (${b.label}) is empty`);
    need(b.byteLength <= maxBinding, k.name,
      () => `binding '${s.name}' (${b.label}) is ${b.byteLength} bytes, over this adapter's limit of ${maxBinding} bytes per binding`);
    const wantU32 = s.elem === 'u32' || s.elem === 'vec4u' || s.elem.startsWith('atomic');
    need(wantU32 === (b.dtype === 'u32'), k.name, () => `binding '${s.name}' wants ${s.elem} elements, got a ${b.dtype} tensor (${b.label})`);
    need(b.byteLength % s.stride === 0, k.name,
      () => `binding '${s.name}' (${b.label}) is ${b.byteLength} bytes, not a multiple of its ${s.elem} element (${s.stride} bytes)`);
  }
  // WebGPU forbids one buffer bound read-only and writable in the same dispatch
  // (even disjoint regions): say so here instead of an asynchronous device error.
  for (const r of k.storage) {
    if (r.access !== 'read') continue;
    for (const w of k.storage) {
      if (w.access !== 'read_write' || buffers[r.name]!.buffer !== buffers[w.name]!.buffer) continue;
      throw new KernelError(k.name, `reads '${r.name}' (${buffers[r.name]!.label}) from the buffer it writes through '${w.name}' ` +
        `(${buffers[w.name]!.label}); WebGPU does not allow that in one dispatch: use separate tensors`);
    }
  }
}

/** Writes named parameters into the kernel's uniform struct layout. */
export function packParams(k: Kernel, params: Record<string, number>, out: DataView, at: number): void {
  const u = k.uniform;
  if (!u) {
    need(Object.keys(params).length === 0, k.name, () => `takes no parameters, got ${Object.keys(params).join(', ')}`);
    return;
  }
  for (const n of Object.keys(params)) need(u.members.some((m) => m.name === n), k.name, () => `unknown parameter '${n}'`);
  for (const m of u.members) {
    const v = params[m.name];
    need(v !== undefined, k.name, () => `missing parameter '${m.name}'`);
    need(typeof v === 'number' && !Number.isNaN(v), k.name, () => `parameter '${m.name}' is not a number (${v})`);
    if (m.type === 'f32') out.setFloat32(at + m.offset, v, true);
    else {
      need(Number.isInteger(v), k.name, () => `parameter '${m.name}' must be an integer, got ${v}`);
      if (m.type === 'u32') {
        need(v >= 0 && v <= 0xffffffff, k.name, () => `parameter '${m.name}' = ${v} does not fit in u32`);
        out.setUint32(at + m.offset, v, true);
      } else out.setInt32(at + m.offset, v, true);
    }
  }
}
