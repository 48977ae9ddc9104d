// Moved to src/kernels/peak.ts; kept only for the bench/ imports of peakFlops.
export { peakFlops } from '../kernels/peak.ts';
