// What a model module's CLI entry receives, and what it must export.
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import type { SyntheticPpca } from '../data/synthetic.ts';

export type { Dataset };

export interface Progress {
  start(total: number, what: string): void;
  tick(done: number, info?: Record<string, number | string>): void;
  stop(): void;
}

export interface CliContext {
  backend: Backend;
  train: Dataset;
  test: Dataset;
  /**
   * parsed options, camelCase: model, method, latent, epochs, iters, batch, lr, seed, out, json,
   * samples, estimator, objective, likelihood, hidden, ... (the full list: src/cli/program.ts).
   * For `eval`, model is the model file's path and modelType the file's metadata "model".
   */
  opts: Record<string, string | number | boolean | undefined>;
  /** a cli-progress bar on a TTY (stderr), silent otherwise and with --json */
  progress: Progress;
  /** to stderr, never stdout */
  log(msg: string): void;
  /** the generating parameters when --data synthetic */
  truth?: SyntheticPpca;
}

/** A model's CLI entry: returns the JSON result object (printed by main with --json, summarized otherwise). */
export type Runner = (ctx: CliContext) => Promise<Record<string, unknown>>;

/** src/cli/ppca.ts and src/cli/vae.ts export these. */
export interface ModelModule {
  train: Runner;
  evaluate: Runner;
}
