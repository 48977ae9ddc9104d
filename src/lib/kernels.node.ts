// The kernel-level surface (src/lib/kernels.ts) plus its Node-only pieces: the
// WebAssembly SIMD backend with explicit options and the SwiftShader Vulkan
// driver's manifest, for benchmarks that compare threads or point another
// WebGPU library at the same software adapter.
export * from './kernels.ts';

/** The WebAssembly SIMD CPU backend with explicit threads (and shared memory, FMA) settings. */
export { createWasmBackend, type WasmBackendNodeOptions } from '../wasm/node.ts';
/** Where Debian's Chromium keeps the SwiftShader Vulkan ICD manifest (VK_ICD_FILENAMES for the SwiftShader adapter). */
export { SWIFTSHADER_ICD } from '../gpu/node.ts';
