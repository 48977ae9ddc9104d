// Device acquisition shared by Node and the browser: given a GPU object and an
// adapter, request a device with the limits the kernels need (the adapter's own
// maxima), and recognise the adapter once (its profile, describeAdapter) for every
// per-adapter choice and every figure we report.
import type { AdapterDescription, AdapterKind, BackendInfo } from '../backend.ts';

export type AdapterChoice = 'auto' | 'gpu' | 'swiftshader' | 'llvmpipe';
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ['auto', 'gpu', 'swiftshader', 'llvmpipe'];

export interface GpuDevice {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** the adapter's feature: timestamp queries for kernel timing */
  timestamps: boolean;
  /** the adapter's maxima of {@link WANTED_LIMITS}, as offered (the device's are in adapter.limits) */
  offeredLimits: Record<string, number>;
  /** set when the device is lost; every later call reports it */
  lost: { reason: string; message: string } | null;
  /** release the device and whatever keeps the native instance alive */
  destroy(): void;
}

export class NoAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoAdapterError';
  }
}

/**
 * The limits the kernels use, requested at the adapter's maxima: the defaults
 * are far lower (128 MiB per binding, 256 MiB per buffer, and on a
 * compatibility-level adapter such as llvmpipe 128 invocations per workgroup
 * and 4,096-texel textures).
 */
export const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxTextureDimension2D',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** Names of CPU-rendering drivers: Mesa llvmpipe/softpipe/lavapipe (lvp), SwiftShader, Windows WARP. */
export const SOFTWARE_DRIVER = /swiftshader|llvmpipe|lavapipe|\blvp|softpipe|warp|basic render/i;

/** What an adapter says about itself (GPUAdapterInfo, plus isFallbackAdapter where the browser puts it there). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  description?: string;
  device?: string;
  isFallbackAdapter?: boolean;
}

/**
 * The adapter's kind, from its name: llvmpipe and SwiftShader get kernels of
 * their own; any other fallback adapter or software driver is 'other-software'
 * (llvmpipe reports isFallbackAdapter false, so names decide).
 */
export function adapterKind(info: AdapterInfoLike): AdapterKind {
  const name = `${info.vendor} ${info.architecture} ${info.description} ${info.device}`;
  if (/llvmpipe/i.test(name)) return 'llvmpipe';
  if (/swiftshader/i.test(name)) return 'swiftshader';
  return info.isFallbackAdapter || SOFTWARE_DRIVER.test(name) ? 'other-software' : 'gpu';
}

/**
 * Whether an adapter renders on the CPU. Such an adapter trains slower than the
 * WebAssembly CPU backend here (DESIGN §3.3), so `auto` skips it.
 */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  return adapterKind(info) !== 'gpu';
}

/** The adapter's profile: its info, feature level and kind, computed once per device. */
export function describeAdapter(adapter: GPUAdapter, choice: string, featureLevel: 'core' | 'compatibility'): AdapterDescription {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fallback = Boolean(info.isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const seen = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: fallback,
  };
  const kind = adapterKind(seen);
  return { choice, ...seen, featureLevel, kind, software: kind !== 'gpu' };
}

/** The adapter's name for people, with "(fallback adapter)" where it says it is one. */
export function adapterName(a: AdapterInfoLike & { choice: string }): string {
  const name = [a.vendor, a.architecture, a.device, a.description].filter((s) => s && s.trim()).join(' ').trim() || a.choice;
  return `${name}${a.isFallbackAdapter ? ' (fallback adapter)' : ''}`;
}

/** The {@link WANTED_LIMITS} an adapter or device reports. */
function pickLimits(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') out[name] = v;
  }
  return out;
}

/** Bytes for people: "128 MiB", "2 GiB", "1.5 GiB". */
function sizeText(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return `${bytes} B`;
}

/**
 * The granted limits that bound data and kernel sizes, in one line:
 * "storage binding 128 MiB, buffer 2 GiB, workgroup 1024 invocations / 32 KiB, texture 16384".
 */
export function limitsSummary(limits: Record<string, number>): string {
  const parts: string[] = [];
  const has = (k: string) => typeof limits[k] === 'number';
  if (has('maxStorageBufferBindingSize')) parts.push(`storage binding ${sizeText(limits.maxStorageBufferBindingSize!)}`);
  if (has('maxBufferSize')) parts.push(`buffer ${sizeText(limits.maxBufferSize!)}`);
  if (has('maxComputeInvocationsPerWorkgroup')) {
    const storage = has('maxComputeWorkgroupStorageSize') ? ` / ${sizeText(limits.maxComputeWorkgroupStorageSize!)}` : '';
    parts.push(`workgroup ${limits.maxComputeInvocationsPerWorkgroup} invocations${storage}`);
  }
  if (has('maxTextureDimension2D')) parts.push(`texture ${limits.maxTextureDimension2D}`);
  return parts.join(', ');
}

/** A backend's summary and, for WebGPU, a second line with the device's granted limits (`info`, the app's badge). */
export function backendDetails(info: BackendInfo): string {
  const limits = info.adapter?.limits;
  return limits ? `${info.summary}\nlimits: ${limitsSummary(limits)}` : info.summary;
}

export async function openDevice(
  adapter: GPUAdapter,
  choice: string,
  featureLevel: 'core' | 'compatibility',
  release: () => void = () => {},
): Promise<GpuDevice> {
  const requiredLimits = pickLimits(adapter.limits);
  const timestamps = adapter.features.has('timestamp-query');
  const device = await adapter.requestDevice({
    label: `latentgpu ${choice}`,
    requiredLimits,
    requiredFeatures: timestamps ? ['timestamp-query'] : [],
  });
  const gd: GpuDevice = {
    device,
    adapter: { ...describeAdapter(adapter, choice, featureLevel), limits: pickLimits(device.limits) },
    timestamps,
    offeredLimits: requiredLimits,
    lost: null,
    destroy() {
      device.destroy();
      release();
    },
  };
  void device.lost.then((info) => {
    gd.lost = { reason: String(info.reason), message: info.message };
  });
  return gd;
}
