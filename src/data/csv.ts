// CSV (or TSV / semicolon-separated) numeric tables for the user's own data.
// One row per line, every column a feature; a header row is optional and
// auto-detected (the first row is a header when at least half of its cells are
// not numbers — numeric headers such as pandas' "0,1,2" need header: 'yes').
import { DataError, makeDataset, type Dataset } from './dataset.ts';

export type HeaderMode = 'auto' | 'yes' | 'no';

export interface CsvOptions {
  /** file name for messages and the dataset name */
  source?: string;
  header?: HeaderMode;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

function cellText(raw: string): string {
  const t = raw.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
}

function detectDelimiter(line: string): string {
  if (line.includes(',')) return ',';
  if (line.includes('\t')) return '\t';
  if (line.includes(';')) return ';';
  return ',';
}

export function parseCsv(text: string, opts: CsvOptions = {}): Dataset {
  const source = opts.source ?? 'csv';
  const lines = text.split(/\r\n|\n|\r/);
  // [line number (1-based), cells]
  const rows: Array<[number, string[]]> = [];
  let delimiter: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    delimiter ??= detectDelimiter(line);
    rows.push([i + 1, line.split(delimiter).map(cellText)]);
  }
  if (rows.length === 0) throw new DataError(`${source}: no data (the file is empty)`);

  const mode = opts.header ?? 'auto';
  const first = rows[0]![1];
  const textCells = first.filter((c) => !NUMBER.test(c) && !NON_FINITE.test(c)).length;
  const hasHeader = mode === 'yes' || (mode === 'auto' && textCells * 2 >= first.length);
  const names = hasHeader ? first : null;
  const body = hasHeader ? rows.slice(1) : rows;
  if (body.length === 0) throw new DataError(`${source}: no data rows (only a header on line ${rows[0]![0]})`);

  const D = names ? names.length : body[0]![1].length;
  const where = (r: number, line: number, c: number): string =>
    `${source}: row ${r + 1} (line ${line}), column ${c + 1}${names && names[c] ? ` ("${names[c]}")` : ''}`;
  const x = new Float32Array(body.length * D);
  body.forEach(([line, cells], r) => {
    if (cells.length !== D) {
      throw new DataError(`${source}: row ${r + 1} (line ${line}) has ${cells.length} cells, expected ${D}${names ? ' (as in the header)' : ' (as in the first row)'}`);
    }
    for (let c = 0; c < D; c++) {
      const s = cells[c]!;
      if (s === '') throw new DataError(`${where(r, line, c)}: empty cell`);
      if (NON_FINITE.test(s)) throw new DataError(`${where(r, line, c)}: "${s}" is not a finite number`);
      if (!NUMBER.test(s)) throw new DataError(`${where(r, line, c)}: non-numeric cell "${s}"`);
      const v = Number(s);
      // finite in float64 but too large for float32
      if (!Number.isFinite(Math.fround(v))) throw new DataError(`${where(r, line, c)}: ${s} overflows float32`);
      x[r * D + c] = v;
    }
  });
  return makeDataset(source, x, body.length, D);
}
