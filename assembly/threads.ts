// The thread entry of the kernel module. The caller and the pool's workers run
// runThread(desc, tid, nthreads) on one job descriptor (i32/f32 slots written by
// src/wasm/backend.ts): slot 0 names the kernel, the rest are its arguments.
// Each thread does its share: matmul splits itself (assembly/matmul.ts); Adam
// splits the parameters into ranges of whole f32x4 vectors, the Bernoulli
// log-likelihood and its backward split the rows.
import { matmulThread } from './matmul';
import { adam, bernoulliLogLik, bernoulliLogLikBackward } from './kernels';

const JOB_MATMUL = 0;
const JOB_ADAM = 1;
const JOB_BERNOULLI = 2;
const JOB_BERNOULLI_BACKWARD = 3;

@inline function slot(args: usize, i: i32): i32 {
  return load<i32>(args + (<usize>i << 2));
}

@inline function slotF(args: usize, i: i32): f32 {
  return load<f32>(args + (<usize>i << 2));
}

/** The first item of thread tid's share of `units` units (tid = nthreads gives the end). */
@inline function shareStart(units: i32, tid: i32, nthreads: i32): i32 {
  return <i32>(<i64>units * tid / nthreads);
}

export function runThread(desc: usize, tid: i32, nthreads: i32): void {
  const kind = load<i32>(desc);
  const args = desc + 4;
  if (kind == JOB_MATMUL) {
    matmulThread(args, tid, nthreads);
  } else if (kind == JOB_ADAM) {
    // param, grad, m, v, n, lr, beta1, beta2, eps, biasCorrection1, biasCorrection2, weightDecay
    const n = slot(args, 4);
    const units = (n + 3) / 4;
    const lo = min(n, shareStart(units, tid, nthreads) * 4), hi = min(n, shareStart(units, tid + 1, nthreads) * 4);
    if (lo >= hi) return;
    const o = <usize>lo << 2;
    adam(<usize>slot(args, 0) + o, <usize>slot(args, 1) + o, <usize>slot(args, 2) + o, <usize>slot(args, 3) + o, hi - lo,
      slotF(args, 5), slotF(args, 6), slotF(args, 7), slotF(args, 8), slotF(args, 9), slotF(args, 10), slotF(args, 11));
  } else if (kind == JOB_BERNOULLI || kind == JOB_BERNOULLI_BACKWARD) {
    // x, logits, out (dOut), [dLogits,] rows, cols[, accumulate]
    const backward = kind == JOB_BERNOULLI_BACKWARD;
    const rows = slot(args, backward ? 4 : 3), cols = slot(args, backward ? 5 : 4);
    const r0 = shareStart(rows, tid, nthreads), r1 = shareStart(rows, tid + 1, nthreads);
    if (r0 >= r1) return;
    const e = <usize>r0 * <usize>cols << 2, r = <usize>r0 << 2;
    if (backward) {
      bernoulliLogLikBackward(<usize>slot(args, 0) + e, <usize>slot(args, 1) + e, <usize>slot(args, 2) + r, <usize>slot(args, 3) + e,
        r1 - r0, cols, slot(args, 6) != 0);
    } else {
      bernoulliLogLik(<usize>slot(args, 0) + e, <usize>slot(args, 1) + e, <usize>slot(args, 2) + r, r1 - r0, cols);
    }
  } else {
    unreachable();
  }
}
