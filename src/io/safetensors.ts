// The safetensors model-file format (https://github.com/huggingface/safetensors):
//   8 bytes   N, the header length, little-endian u64
//   N bytes   UTF-8 JSON: {"__metadata__": {string: string}?, name: {dtype, shape, data_offsets: [begin, end]}, ...},
//             padded with spaces so the data section starts 8-byte aligned
//   the rest  tensor data, little-endian, row-major; offsets relative to the data
//             section, contiguous, covering it exactly
// Platform-neutral (no Node APIs): the browser app loads and saves the same files.

export type SafetensorsDType = 'F32' | 'F64' | 'U32' | 'I32' | 'U8';

export interface DTypeArray {
  F32: Float32Array;
  F64: Float64Array;
  U32: Uint32Array;
  I32: Int32Array;
  U8: Uint8Array;
}

export interface SafetensorsTensor<D extends SafetensorsDType = SafetensorsDType> {
  dtype: D;
  /** row-major; [] is a scalar */
  shape: number[];
  data: DTypeArray[D];
}

export type TensorMap = Record<string, SafetensorsTensor>;

export interface Safetensors {
  tensors: TensorMap;
  metadata: Record<string, string>;
}

/** A model file that cannot be written or read, with the reason. */
export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFileError';
  }
}

const DTYPES: Record<SafetensorsDType, { bytes: number; array: { new (b: ArrayBuffer): DTypeArray[SafetensorsDType] } & { name: string } }> = {
  F64: { bytes: 8, array: Float64Array },
  F32: { bytes: 4, array: Float32Array },
  U32: { bytes: 4, array: Uint32Array },
  I32: { bytes: 4, array: Int32Array },
  U8: { bytes: 1, array: Uint8Array },
};
/** dtypes of the format that this module does not read */
const OTHER_FORMAT_DTYPES = ['BOOL', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I64', 'U64', 'F8_E5M2', 'F8_E4M3'];
/**
 * Limits checked before anything is parsed or allocated. A latentgpu header is a
 * few kB; these leave room for other tools' files while bounding the parse of a
 * hostile header (600k junk entries cost 1.2 GB when it was unbounded).
 */
export const SAFETENSORS_LIMITS = {
  /** header bytes (the reference implementation allows 100 MB) */
  headerBytes: 4 * 2 ** 20,
  tensors: 4096,
  metadataEntries: 1024,
  /** dimensions of one tensor */
  rank: 16,
  /** nesting of the header JSON: the format needs 3 (header, entry, shape) */
  depth: 3,
};
const MAX_HEADER_BYTES = SAFETENSORS_LIMITS.headerBytes;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDType(d: unknown): d is SafetensorsDType {
  return typeof d === 'string' && Object.hasOwn(DTYPES, d);
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Bytes that dtype × shape needs, or null when that is more than `limit`
 * (the product is formed only while it stays below the limit, so huge dimensions cannot overflow it).
 */
function byteSize(shape: number[], bytes: number, limit: number): number | null {
  if (shape.includes(0)) return 0;
  let size = bytes;
  for (const d of shape) {
    size *= d;
    if (size > limit) return null;
  }
  return size;
}

/**
 * Counts the keys (colons outside strings) and the deepest nesting of a JSON
 * text without parsing it, so a header with too many entries or too deep a
 * structure is refused before JSON.parse allocates for it.
 */
function scanJson(b: Uint8Array): { keys: number; depth: number } {
  let keys = 0;
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x3a) keys++;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return { keys, depth: deepest };
}

/** Copies a typed array's elements as little-endian bytes into out at offset. */
function writeLittleEndian(out: Uint8Array, offset: number, data: DTypeArray[SafetensorsDType], bytes: number): void {
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || bytes === 1) {
    out.set(src, offset);
    return;
  }
  for (let i = 0; i < data.length; i++) {
    for (let b = 0; b < bytes; b++) out[offset + i * bytes + b] = src[i * bytes + bytes - 1 - b]!;
  }
}

function readLittleEndian(bytes: Uint8Array, dtype: SafetensorsDType, count: number): DTypeArray[SafetensorsDType] {
  const { bytes: size, array } = DTYPES[dtype];
  // own, aligned storage, independent of the file buffer (Buffer.slice would be a view)
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!LITTLE_ENDIAN && size > 1) {
    for (let i = 0; i < count; i++) copy.subarray(i * size, (i + 1) * size).reverse();
  }
  return new array(copy.buffer);
}

/** Builds a safetensors file. Tensors are laid out 8-byte types first, then by name, so every tensor is naturally aligned. */
export function encodeSafetensors(tensors: TensorMap, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ModelFileError(`metadata '${k}' must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name]!;
    if (name === '__metadata__' || name === '') throw new ModelFileError(`'${name}' is not a valid tensor name`);
    if (!isDType(t.dtype)) throw new ModelFileError(`tensor '${name}': unsupported dtype '${t.dtype}' (supported: ${Object.keys(DTYPES).join(', ')})`);
    const { array } = DTYPES[t.dtype];
    if (!(t.data instanceof array)) {
      throw new ModelFileError(`tensor '${name}': dtype ${t.dtype} needs a ${array.name}, got ${t.data?.constructor?.name}`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ModelFileError(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    if (elementCount(t.shape) !== t.data.length) {
      throw new ModelFileError(`tensor '${name}': shape [${t.shape.join(', ')}] has ${elementCount(t.shape)} elements, data has ${t.data.length}`);
    }
  }
  names.sort((a, b) => DTYPES[tensors[b]!.dtype].bytes - DTYPES[tensors[a]!.dtype].bytes || (a < b ? -1 : a > b ? 1 : 0));
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const end = offset + t.data.byteLength;
    setOwn(header, name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] });
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  const dataStart = 8 + headerLen;
  for (const name of names) {
    const t = tensors[name]!;
    const [begin] = (header[name] as { data_offsets: [number, number] }).data_offsets;
    writeLittleEndian(out, dataStart + begin, t.data, DTYPES[t.dtype].bytes);
  }
  return out;
}

/** obj[key] = value as an own property, even for a key like '__proto__' */
function setOwn(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A name from a file, clipped for a one-line message. */
function clip(name: string): string {
  return name.length > 60 ? `${name.slice(0, 60)}…` : name;
}

function fail(problem: string): never {
  // names and values from the file may hold control characters: never echo them raw to a terminal
  const printable = problem.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  throw new ModelFileError(`not a valid safetensors file: ${printable}`);
}

/** A tensor's place in the data section, as the header states it (checked). */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The header length that a file's first 8 bytes declare, checked against the
 * limit and against the `fileLength` bytes present before anything is read.
 */
export function safetensorsHeaderLength(first: Uint8Array, fileLength: number): number {
  if (fileLength < 8 || first.length < 8) fail(`the file is ${fileLength} bytes, shorter than the 8-byte header length field`);
  const view = new DataView(first.buffer, first.byteOffset, 8);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLen > fileLength - 8) {
    fail(`header length ${headerLen} exceeds the ${fileLength - 8} bytes after the length field (truncated file?)`);
  }
  if (headerLen < 2) fail(`header length ${headerLen} is too short for a JSON object`);
  return headerLen;
}

/**
 * Parses and checks a header (the bytes after the length field) of a file of
 * `fileLength` bytes: every entry's dtype, shape and offsets, and that the
 * tensors tile the data section. Reads no tensor data.
 */
export function decodeSafetensorsHeader(headerBytes: Uint8Array, fileLength: number): { metadata: Record<string, string>; entries: SafetensorsEntry[] } {
  const headerLen = headerBytes.length;
  const L = SAFETENSORS_LIMITS;
  // a tensor entry has 4 keys (its name, dtype, shape, data_offsets), a metadata entry 1, plus __metadata__ itself
  const scan = scanJson(headerBytes);
  if (scan.keys > 4 * L.tensors + L.metadataEntries + 1) {
    fail(`the header has ${scan.keys} keys, more than ${L.tensors} tensors and ${L.metadataEntries} metadata entries can have`);
  }
  if (scan.depth > L.depth) fail(`the header nests ${scan.depth} levels deep; the format has ${L.depth} (header, tensor entry, shape)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`the header must be a JSON object starting with '{', got ${JSON.stringify(text.slice(0, 20))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`invalid JSON header (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('the header is not a JSON object');

  const metadata: Record<string, string> = {};
  const raw = header as Record<string, unknown>;
  if (raw.__metadata__ !== undefined) {
    const md = raw.__metadata__;
    if (md === null || typeof md !== 'object' || Array.isArray(md)) fail('__metadata__ must be an object of strings');
    const count = Object.keys(md).length;
    if (count > L.metadataEntries) fail(`__metadata__ has ${count} entries, over the limit of ${L.metadataEntries}`);
    for (const [k, v] of Object.entries(md)) {
      if (typeof v !== 'string') fail(`__metadata__ '${clip(k)}' must be a string, got ${String(JSON.stringify(v)).slice(0, 60)}`);
      setOwn(metadata, k, v);
    }
  }

  const dataLen = fileLength - 8 - headerLen;
  const tensorCount = Object.keys(raw).length - (raw.__metadata__ === undefined ? 0 : 1);
  if (tensorCount > L.tensors) fail(`the header lists ${tensorCount} tensors, over the limit of ${L.tensors}`);
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(raw)) {
    if (name === '__metadata__') continue;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) fail(`tensor '${clip(name)}': entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDType(dtype)) {
      if (typeof dtype === 'string' && OTHER_FORMAT_DTYPES.includes(dtype)) {
        fail(`tensor '${clip(name)}': dtype ${dtype} is not supported here (supported: ${Object.keys(DTYPES).join(', ')})`);
      }
      fail(`tensor '${clip(name)}': unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${clip(name)}': shape must be an array of non-negative integers, got ${JSON.stringify(shape).slice(0, 60)}`);
    }
    if (shape.length > L.rank) fail(`tensor '${clip(name)}': shape has ${shape.length} dimensions, over the limit of ${L.rank}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${clip(name)}': data_offsets must be [begin, end] of non-negative integers, got ${String(JSON.stringify(offsets)).slice(0, 60)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`tensor '${clip(name)}': data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) {
      fail(`tensor '${clip(name)}': data_offsets [${begin}, ${end}] are out of range of the ${dataLen}-byte data section (truncated file?)`);
    }
    const need = byteSize(shape, DTYPES[dtype].bytes, Number.MAX_SAFE_INTEGER);
    if (need === null) fail(`tensor '${clip(name)}': shape [${shape.join(', ')}] of ${dtype} needs more than 2^53 bytes`);
    if (need !== end - begin) {
      fail(`tensor '${clip(name)}': shape [${shape.join(', ')}] of ${dtype} needs ${need} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }

  // the format requires the tensors to tile the data section: no gaps, no overlap, nothing left over
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const [i, e] of entries.entries()) {
    if (e.begin < covered) fail(`tensors '${clip(entries[i - 1]!.name)}' and '${clip(e.name)}' overlap at byte ${e.begin} of the data section`);
    if (e.begin > covered) fail(`bytes [${covered}, ${e.begin}) of the data section belong to no tensor`);
    covered = e.end;
  }
  if (covered !== dataLen) fail(`the tensors cover ${covered} bytes but the data section has ${dataLen} (trailing bytes)`);
  return { metadata, entries };
}

/** Parses a safetensors file; the tensors are copies, independent of `bytes`. */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (!(bytes instanceof Uint8Array)) fail('expected the file contents as a Uint8Array');
  const headerLen = safetensorsHeaderLength(bytes, bytes.length);
  const { metadata, entries } = decodeSafetensorsHeader(bytes.subarray(8, 8 + headerLen), bytes.length);
  const dataStart = 8 + headerLen;
  const tensors: TensorMap = {};
  for (const e of entries) {
    const data = readLittleEndian(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, elementCount(e.shape));
    setOwn(tensors, e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}
