// Probabilistic PCA on the GPU: the public surface of src/models/ppca/*.
export * from './ppca/model.ts';
export * from './ppca/loglik.ts';
export * from './ppca/posterior.ts';
export * from './ppca/em.ts';
export * from './ppca/sem.ts';
export * from './ppca/oem.ts';
export * from './ppca/closed.ts';
export * from './ppca/estimators.ts';
export * from './ppca/file.ts';
export { principalAngles } from './ppca/subspace.ts';
export { toF32 } from './ppca/linalg.ts';
export * from './ppca/checkpoint.ts';
export { CentredData, checkDataScale, columnStats, internalScale, type ColumnStats, type ScaleReport } from './ppca/scale.ts';
