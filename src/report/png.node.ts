// PNG encoding of grayscale grids (Node: pngjs).
import { PNG } from 'pngjs';
import type { GrayImage } from './grid.ts';

export function encodePng(img: GrayImage): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(img.pixels);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}
