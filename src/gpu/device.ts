// Device acquisition shared by Node and the browser: given a GPU object and an
// adapter, request a device with the limits the kernels need (the adapter's own
// maxima), and recognise the adapter once (its profile, describeAdapter) for every
// per-adapter choice and every figure we report.
import type { AdapterDescription, AdapterKind } from '../backend.ts';

export type AdapterChoice = 'auto' | 'gpu' | 'swiftshader' | 'llvmpipe';
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ['auto', 'gpu', 'swiftshader', 'llvmpipe'];

export interface GpuDevice {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** the adapter's feature: timestamp queries for kernel timing */
  timestamps: boolean;
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

/** The limits the kernels use, requested at the adapter's maxima. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
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

export async function openDevice(
  adapter: GPUAdapter,
  choice: string,
  featureLevel: 'core' | 'compatibility',
  release: () => void = () => {},
): Promise<GpuDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const timestamps = adapter.features.has('timestamp-query');
  const device = await adapter.requestDevice({
    label: `latentgpu ${choice}`,
    requiredLimits,
    requiredFeatures: timestamps ? ['timestamp-query'] : [],
  });
  const gd: GpuDevice = {
    device,
    adapter: describeAdapter(adapter, choice, featureLevel),
    timestamps,
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
