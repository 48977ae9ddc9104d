// The ESM build of wgsl_reflect ships without its own declaration; its types are the package's.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
