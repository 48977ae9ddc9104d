// Small DOM helpers: typed lookups and inline messages.

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no element #${id}`);
  return el as T;
}

export function num(id: string, what: string, opts: { int?: boolean; min?: number; max?: number } = {}): number {
  const input = $<HTMLInputElement>(id);
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isFinite(v)) throw new InputError(`${what}: '${input.value}' is not a number`);
  if (opts.int && !Number.isInteger(v)) throw new InputError(`${what} must be a whole number, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw new InputError(`${what} must be at least ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new InputError(`${what} must be at most ${opts.max}, got ${v}`);
  return v;
}

/** A bad value typed into the setup panel; `shown`: already displayed beside the input it concerns. */
export class InputError extends Error {
  readonly shown: boolean;
  constructor(message: string, opts: { shown?: boolean } = {}) {
    super(message);
    this.name = 'InputError';
    this.shown = opts.shown ?? false;
  }
}

export function showError(id: string, message: string | null): void {
  const el = $(id);
  el.textContent = message ?? '';
  el.hidden = message === null;
}

export function setText(id: string, text: string): void {
  $(id).textContent = text;
}

export function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1e5 ? v.toExponential(digits) : v.toFixed(digits);
}

/** Offers bytes as a download named `name`. */
export function download(bytes: Uint8Array, name: string, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A table row of text cells; those from `numFrom` on are right-aligned numbers. */
export function tableRow(cells: string[], numFrom = 1): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.append(...cells.map((text, i) => {
    const td = document.createElement('td');
    if (i >= numFrom) td.className = 'num';
    td.textContent = text;
    return td;
  }));
  return tr;
}
