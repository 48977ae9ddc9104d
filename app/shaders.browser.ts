// The browser build registers every WGSL source through the library's loader
// (src/gpu/shaders.browser.ts), which the backend choice imports too.
export { shaderFamilies } from '../src/gpu/shaders.browser.ts';
