// The model adapters by kind. A kind without an adapter is reported on Start.
import { lvmFactory, vaeFactory } from './latent.ts';
import { ppcaEmFactory, ppcaOemFactory, ppcaSemFactory } from './ppca.ts';
import type { ModelKind, RunnerFactory } from './runner.ts';

export const factories: Partial<Record<ModelKind, RunnerFactory>> = {
  'ppca-em': ppcaEmFactory,
  'ppca-sem': ppcaSemFactory,
  'ppca-oem': ppcaOemFactory,
  vae: vaeFactory,
  lvm: lvmFactory,
};
