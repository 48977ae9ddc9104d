// Device acquisition shared by Node and the browser: given a GPU object and an
// adapter, request a device with the limits the kernels need (the adapter's own
// maxima), and describe the adapter for every figure we report.
import type { AdapterDescription } from '../backend.ts';

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

/**
 * Whether an adapter renders on the CPU (the browser's isFallbackAdapter, or a
 * software driver by name: llvmpipe reports isFallbackAdapter false). Such an
 * adapter trains slower than the WebAssembly CPU backend here (classic VAE b128:
 * llvmpipe 1,340 samples/s vs 9,900; SwiftShader slower still), so `auto` skips it.
 */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; description?: string; device?: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true;
  return SOFTWARE_DRIVER.test(`${info.vendor} ${info.architecture} ${info.description} ${info.device}`);
}

export function describeAdapter(adapter: GPUAdapter, choice: string, featureLevel: 'core' | 'compatibility'): AdapterDescription {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fallback = Boolean(info.isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return {
    choice,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: fallback,
    featureLevel,
  };
}

export function adapterName(a: AdapterDescription): string {
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
