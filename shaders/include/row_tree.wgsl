// The row-segment tree of the row-wise reductions (reduce, gaussian, bernoulli, kl):
// a workgroup of WG threads works on WG/TPR rows, TPR lanes per row; each lane sums
// a strided slice of its row serially, then rowTree adds the TPR lane sums in a
// fixed tree in workgroup memory (deterministic: the same bits on every run, no
// atomics). Launch shapes: rowLayout and dispatchRows in src/gpu/ops/reduce.ts.

// Threads per workgroup and threads per row (both powers of two, TPR ≤ WG).
override WG: u32 = 64;
override TPR: u32 = 8;

var<workgroup> seg: array<f32, WG>;

// Invocation li works on row (wid.x + wid.y·nwg.x)·(WG/TPR) + li/TPR as lane li % TPR
// (workgroups folded into x·y). It has no function for this or a return value:
// wgsl_reflect's interpreter, which checks these trees for races (test/races.ts),
// gives every invocation the last one's return value.

// Adds the TPR lane sums s of li's row; afterwards seg[li] of lane 0 holds the
// row's sum. Every invocation of the workgroup must call it (it has barriers).
fn rowTree(li: u32, lane: u32, s: f32) {
  seg[li] = s;
  workgroupBarrier();
  for (var stride = TPR / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) { seg[li] += seg[li + stride]; }
    workgroupBarrier();
  }
}
