/**
 * `latentgpu/kernels`: the kernel-level surface, for benchmarks and reference
 * implementations rather than training (the WebGPU matmul variants and their
 * tuner, the peak-FMA probe, the host random generators; src/lib/kernels.ts,
 * which browsers get), plus its Node-only pieces: the WebAssembly SIMD backend
 * with explicit options and the SwiftShader Vulkan driver's manifest, for
 * benchmarks that compare threads or point another WebGPU library at the same
 * software adapter.
 *
 * @module latentgpu/kernels
 */
export * from './kernels.ts';

/** The WebAssembly SIMD CPU backend with explicit threads (and shared memory, FMA) settings. */
export { createWasmBackend, type WasmBackendNodeOptions } from '../wasm/node.ts';
/** Where Debian's Chromium keeps the SwiftShader Vulkan ICD manifest (VK_ICD_FILENAMES for the SwiftShader adapter). */
export { SWIFTSHADER_ICD } from '../gpu/node.ts';
