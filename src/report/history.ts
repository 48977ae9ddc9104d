// Training history → chart series (objective per sample against epochs).
import type { EpochSummary, Progress } from '../train/trainer.ts';
import type { Series } from './curve.ts';

export function curveSeries(history: Progress[], epochs: EpochSummary[], stepsPerEpoch: number): Series[] {
  return [
    { name: 'objective, mean of each check', color: '#9ab', points: history.map((p) => ({ x: p.step / stepsPerEpoch, y: p.objective })) },
    { name: 'objective, epoch mean', color: '#c33', points: epochs.map((e) => ({ x: e.epoch + 1, y: e.objective })) },
  ];
}
