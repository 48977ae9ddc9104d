// The training loop of the page: units of work (ticks) run one after another
// with a yield to the event loop between them, so the page stays responsive;
// pause stops the tick in flight after its current step (an AbortSignal).
// Throughput is measured over the last few seconds of ticks.
import { yieldToEventLoop } from './runtime.ts';
import type { ModelRun, RunTick } from '../src/browser.ts';

/** pausing: asked to pause, the tick in flight is finishing; paused: nothing runs; stepping: one "step once" in flight */
export type RunState = 'idle' | 'running' | 'pausing' | 'paused' | 'converged' | 'stepping' | 'failed';

export interface ControllerEvents {
  onTick(r: RunTick, totalSteps: number): void;
  onState(s: RunState): void;
  /** a refresh of the pictures is due (at most every `refreshMs` while running) */
  onRefresh(): Promise<void>;
  onError(e: unknown): void;
}

export class TrainingController {
  state: RunState = 'idle';
  steps = 0;
  samples = 0;
  private loop: Promise<void> | null = null;
  /** aborts the running loop's tick in flight on pause */
  private abort: AbortController | null = null;
  private lastRefresh = 0;
  private refreshCost = 0;
  private readonly window: { t: number; samples: number }[] = [];

  /**
   * guard: wraps every await on the backend (untilLost in the app), so that a
   * promise that never settles on a lost device cannot hang the loop.
   */
  constructor(
    readonly runner: ModelRun,
    private readonly ev: ControllerEvents,
    private readonly guard: <T>(p: Promise<T>) => Promise<T> = (p) => p,
  ) {}

  /** samples per second over the last ~3 s of work */
  get rate(): number | undefined {
    const w = this.window;
    if (w.length < 2) return undefined;
    const dt = (w[w.length - 1]!.t - w[0]!.t) / 1000;
    let s = 0;
    for (let i = 1; i < w.length; i++) s += w[i]!.samples;
    return dt > 0 ? s / dt : undefined;
  }

  private setState(s: RunState): void {
    this.state = s;
    this.ev.onState(s);
  }

  start(): void {
    if (this.state === 'running' || this.state === 'stepping' || this.state === 'failed') return;
    this.setState('running');
    this.window.length = 0;
    this.loop ??= this.run().finally(() => {
      this.loop = null;
      if (this.state === 'pausing') this.setState('paused');
    });
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.abort?.abort();
    this.setState(this.loop ? 'pausing' : 'paused');
  }

  /** resolves when the tick in flight (if any) is done */
  async settle(): Promise<void> {
    await this.loop;
  }

  /** Stops the run for good (the backend is gone); the tick in flight, if any, is abandoned. */
  fail(): void {
    if (this.state !== 'failed') this.setState('failed');
  }

  /** One tick and a refresh; nothing else may touch the runner meanwhile ('stepping'). */
  async stepOnce(): Promise<void> {
    if (this.state === 'running' || this.state === 'pausing' || this.state === 'stepping' || this.state === 'failed') return;
    const before = this.state;
    await this.loop;
    this.setState('stepping');
    try {
      if (await this.tick()) await this.refreshNow();
    } finally {
      if ((this.state as RunState) === 'stepping') this.setState(before);
    }
  }

  private async tick(signal?: AbortSignal): Promise<RunTick | null> {
    try {
      const r = await this.guard(this.runner.tick(signal));
      this.steps += r.steps;
      this.samples += r.samples;
      const now = performance.now();
      if (this.window.length === 0) this.window.push({ t: now - 1, samples: 0 });
      this.window.push({ t: now, samples: r.samples });
      while (this.window.length > 2 && now - this.window[0]!.t > 3000) this.window.shift();
      this.ev.onTick(r, this.steps);
      return r;
    } catch (e) {
      this.setState('failed');
      this.ev.onError(e);
      return null;
    }
  }

  async refreshNow(): Promise<void> {
    const t0 = performance.now();
    try {
      await this.guard(this.ev.onRefresh());
    } catch (e) {
      this.setState('failed');
      this.ev.onError(e);
    }
    this.lastRefresh = performance.now();
    this.refreshCost = this.lastRefresh - t0;
  }

  private async run(): Promise<void> {
    // seed the window so the first rate is measured from the start of the loop
    this.window.push({ t: performance.now(), samples: 0 });
    while (this.state === 'running') {
      // a pause that was taken back (resume before the loop ended) leaves an aborted signal
      if (!this.abort || this.abort.signal.aborted) this.abort = new AbortController();
      const r = await this.tick(this.abort.signal);
      if (!r) return;
      if (r.converged && this.state === 'running') this.setState('converged');
      // pictures cost readbacks: keep them under ~20% of the time while training
      const due = Math.max(800, 4 * this.refreshCost);
      if (this.state !== 'running' || performance.now() - this.lastRefresh > due) await this.refreshNow();
      await yieldToEventLoop();
    }
  }
}
