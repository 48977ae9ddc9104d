// WebGPU in the browser: navigator.gpu, whatever adapter the browser offers.
import { NoAdapterError, openDevice, type GpuDevice } from './device.ts';

export async function acquireBrowserDevice(): Promise<GpuDevice> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoAdapterError('this browser has no WebGPU (navigator.gpu is missing); running on the CPU backend');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoAdapterError('WebGPU is present but no adapter was offered; running on the CPU backend');
  return openDevice(adapter, 'browser', 'core');
}
