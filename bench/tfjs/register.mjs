// node --import ./bench/tfjs/register.mjs: TF.js from its ES builds (see esm-hooks.mjs).
import { createRequire, register } from 'node:module';

register('./esm-hooks.mjs', import.meta.url);
// tfjs-core's ES build still calls require('util') on Node (platform_node): give it one
globalThis.require ??= createRequire(import.meta.url);
