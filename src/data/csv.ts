// CSV (or TSV / semicolon- / whitespace-separated) numeric tables for the user's
// own data. One row per line, every column a feature; a header row is optional
// and auto-detected (the first row is a header when at least half of its cells
// are not numbers — numeric headers such as pandas' "0,1,2" need header: 'yes').
// The delimiter of a .tsv is a tab; otherwise it is detected from a data row, so
// punctuation in a header cell does not decide it.
import { DataError, makeDataset, printable, type Dataset, type MissingMode } from './dataset.ts';

export type HeaderMode = 'auto' | 'yes' | 'no';

export interface CsvOptions {
  /** file name for messages and the dataset name; a name ending in .tsv means tab-separated */
  source?: string;
  header?: HeaderMode;
  /** ',', '\t', ';' or ' ' (runs of whitespace); detected from the data when absent */
  delimiter?: string;
  /** 'nan': an empty cell or nan/NA (any case) is a missing entry, read as NaN (default: an error) */
  missing?: MissingMode;
}

/** Most columns a CSV row may have (the header's cells are kept for messages; wider data: save as .npy). */
export const CSV_MAX_COLUMNS = 1_000_000;
/** Bytes at the start of a file that must look like text. */
const TEXT_PROBE_BYTES = 1024;

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
const WHITESPACE_RUN = /\S+/g;

function cellText(raw: string): string {
  const t = raw.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
}

/** Printable Latin-1: tab, line breaks, 0x20–0x7e, 0xa0–0xff (no C0/C1 controls). */
function isLatin1Text(b: number): boolean {
  return b === 9 || b === 10 || b === 13 || (b >= 0x20 && b <= 0x7e) || b >= 0xa0;
}

/**
 * A CSV file's bytes as text: UTF-8 (a BOM dropped), or Latin-1 when the start
 * is not UTF-8 but is printable Latin-1. A NUL byte, UTF-16, or bytes that are
 * neither in the first KiB mean the file is not a text table.
 */
export function decodeCsvText(bytes: Uint8Array, source = 'csv'): string {
  const name = printable(source, 200);
  const probe = bytes.subarray(0, TEXT_PROBE_BYTES);
  const notText = (why: string): DataError =>
    new DataError(`${name} is not a text file (${why}); a CSV/TSV file must be UTF-8 text, one row per line — for NumPy arrays use a .npy file`);
  if ((probe[0] === 0xff && probe[1] === 0xfe) || (probe[0] === 0xfe && probe[1] === 0xff)) throw notText('it is UTF-16; save it as UTF-8');
  const nul = probe.indexOf(0);
  if (nul >= 0) throw notText(`a NUL byte at offset ${nul}`);
  try {
    // stream: a multi-byte character cut at the probe's end is not an error
    new TextDecoder('utf-8', { fatal: true }).decode(probe, { stream: true });
  } catch {
    const bad = probe.findIndex((b) => !isLatin1Text(b));
    if (bad >= 0) throw notText(`byte 0x${probe[bad]!.toString(16).padStart(2, '0')} at offset ${bad} is neither UTF-8 nor Latin-1 text`);
    return new TextDecoder('latin1').decode(bytes);
  }
  return new TextDecoder('utf-8').decode(bytes);
}

/** Calls visit(line, lineNumber) for each non-blank line; stops when it returns false. */
function eachLine(text: string, visit: (line: string, lineNo: number) => boolean | void): void {
  const br = /\r\n|\n|\r/g;
  let start = 0;
  let lineNo = 1;
  for (;;) {
    const m = br.exec(text);
    const end = m ? m.index : text.length;
    const line = text.slice(start, end);
    if (line.trim() !== '' && visit(line, lineNo) === false) return;
    if (!m) return;
    start = br.lastIndex;
    lineNo++;
  }
}

/** The delimiter a data line uses: comma, tab, semicolon, else whitespace between values, else comma (one column). */
function detectDelimiter(line: string): string {
  for (const d of [',', '\t', ';']) if (line.includes(d)) return d;
  return /\S\s+\S/.test(line) ? ' ' : ',';
}

/** Cells in a line, counted without building them. */
function countCells(line: string, delimiter: string): number {
  if (delimiter === ' ') return line.match(WHITESPACE_RUN)?.length ?? 0;
  let count = 1;
  for (let i = line.indexOf(delimiter); i >= 0; i = line.indexOf(delimiter, i + 1)) count++;
  return count;
}

function splitCells(line: string, delimiter: string): string[] {
  return (delimiter === ' ' ? line.match(WHITESPACE_RUN) ?? [] : line.split(delimiter)).map(cellText);
}

export function parseCsv(text: string, opts: CsvOptions = {}): Dataset {
  const source = printable(opts.source ?? 'csv', 200);
  if (text.startsWith('\ufeff')) text = text.slice(1);
  // the first two non-blank lines: a possible header and a data row
  const firstLines: string[] = [];
  eachLine(text, (line) => firstLines.push(line) < 2);
  if (firstLines.length === 0) throw new DataError(`${source}: no data (the file is empty)`);
  const delimiter = opts.delimiter ?? (/\.tsv$/i.test(opts.source ?? '') ? '\t' : detectDelimiter(firstLines[1] ?? firstLines[0]!));

  let D = -1;
  let names: string[] | null = null;
  let n = 0;
  let x = new Float32Array(0);
  let headerLine = 0;
  const mode = opts.header ?? 'auto';
  eachLine(text, (line, lineNo) => {
    const count = countCells(line, delimiter);
    if (D < 0) {
      // the first row fixes the width and may be the header
      if (count > CSV_MAX_COLUMNS) {
        throw new DataError(`${source}: line ${lineNo} has ${count} cells, more than the ${CSV_MAX_COLUMNS} columns a CSV file may have; save wide data as .npy`);
      }
      D = count;
      const first = splitCells(line, delimiter);
      const textCells = first.filter((c) => !NUMBER.test(c) && !NON_FINITE.test(c)).length;
      if (mode === 'yes' || (mode === 'auto' && textCells * 2 >= first.length)) {
        names = first;
        headerLine = lineNo;
        return;
      }
    }
    if (count !== D) {
      throw new DataError(`${source}: row ${n + 1} (line ${lineNo}) has ${count} cells, expected ${D}${names ? ' (as in the header)' : ' (as in the first row)'}`);
    }
    if ((n + 1) * D > x.length) {
      // doubling keeps the copies linear in the data
      const grown = new Float32Array(Math.max(1024, 2 * (n + 1)) * D);
      grown.set(x);
      x = grown;
    }
    const cells = splitCells(line, delimiter);
    for (let c = 0; c < D; c++) {
      const v = cellValue(cells[c]!, opts.missing);
      if (typeof v === 'string') {
        const hint = opts.missing !== 'nan' && (cells[c] === '' || /^(?:nan|na)$/i.test(cells[c]!)) ? ' (to treat it as a missing entry: --missing nan, for train or eval of --model ppca or fa)' : '';
        throw new DataError(`${where(n, lineNo, c)}: ${v}${hint}`);
      }
      x[n * D + c] = v;
    }
    n++;
  });
  if (n === 0) throw new DataError(`${source}: no data rows (only a header on line ${headerLine})`);

  function where(r: number, line: number, c: number): string {
    const name = names?.[c];
    return `${source}: row ${r + 1} (line ${line}), column ${c + 1}${name ? ` ("${printable(name)}")` : ''}`;
  }
  return makeDataset(source, x.length === n * D ? x : x.slice(0, n * D), n, D);
}

/** A cell as a float32 value, or what is wrong with it. */
function cellValue(s: string, missing: MissingMode = 'error'): number | string {
  if (missing === 'nan' && (s === '' || /^(?:nan|na)$/i.test(s))) return NaN;
  if (s === '') return 'empty cell';
  if (NON_FINITE.test(s)) return `"${printable(s)}" is not a finite number`;
  if (!NUMBER.test(s)) return `non-numeric cell "${printable(s)}"`;
  const v = Number(s);
  // finite in float64 but too large for float32
  if (!Number.isFinite(Math.fround(v))) return `${printable(s)} overflows float32`;
  return v;
}

/** A CSV/TSV file's bytes: checked to be text, decoded, parsed. */
export function parseCsvBytes(bytes: Uint8Array, opts: CsvOptions = {}): Dataset {
  return parseCsv(decodeCsvText(bytes, opts.source), opts);
}
