// The error type and argument checks every kernel family's checks are built from
// (src/kernels/<family>.ts): a bad input fails with the same KernelError message,
// naming the kernel and the problem, on every backend.

/** An error naming the kernel (or operation) and the problem. */
export class KernelError extends Error {
  constructor(readonly kernel: string, problem: string) {
    super(`${kernel}: ${problem}`);
    this.name = 'KernelError';
  }
}

/**
 * Throws a KernelError unless cond holds. `problem` may be a function, so that a
 * check on a per-dispatch path builds its message only when it fails.
 */
export function need(cond: unknown, kernel: string, problem: string | (() => string)): asserts cond {
  if (!cond) throw new KernelError(kernel, typeof problem === 'function' ? problem() : problem);
}

function isInt(v: number): boolean {
  return Number.isInteger(v) && v >= 0;
}

/** Checks that the named sizes are non-negative integers. */
export function checkDims(kernel: string, dims: Record<string, number>): void {
  for (const [k, v] of Object.entries(dims)) {
    need(isInt(v), kernel, () => `${k} must be a non-negative integer, got ${v}`);
  }
}

/** Checks that tensor `name` holds at least `min` elements. */
export function checkLen(kernel: string, name: string | (() => string), t: { length: number } | undefined, min: number): void {
  const label = () => (typeof name === 'function' ? name() : name);
  need(t !== undefined, kernel, () => `missing tensor '${label()}'`);
  need(t.length >= min, kernel, () => `tensor '${label()}' has ${t.length} elements, needs at least ${min}`);
}

/** Checks that a scalar parameter is a finite number. */
export function checkFinite(kernel: string, name: string, v: number): void {
  need(typeof v === 'number' && Number.isFinite(v), kernel, () => `${name} must be a finite number, got ${v}`);
}

/** Parameters as the checks see them: tensors only need a length. */
export type Len = { length: number };
