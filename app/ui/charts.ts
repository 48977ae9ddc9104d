// Chart.js views: the objective curve (train, test, and a closed-form line), the
// latent scatter coloured by label, and the benchmark bars. Animations are off:
// the charts update several times a second while training.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement,
  LinearScale, LogarithmicScale, PointElement, ScatterController, Title, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LineController, LineElement,
  LinearScale, LogarithmicScale, PointElement, ScatterController, Title, Tooltip);

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export class ObjectiveChart {
  private readonly chart: Chart<'line', { x: number; y: number }[]>;

  constructor(canvas: HTMLCanvasElement) {
    this.chart = new Chart(canvas, {
      type: 'line',
      data: {
        datasets: [
          { label: 'train', data: [], borderColor: PALETTE[0], backgroundColor: PALETTE[0], pointRadius: 0, borderWidth: 1.5 },
          { label: 'test', data: [], borderColor: PALETTE[1], backgroundColor: PALETTE[1], pointRadius: 2, borderWidth: 1.5 },
          { label: 'closed-form optimum (train)', data: [], borderColor: '#2ca02c', borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5, hidden: true },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        scales: {
          x: { type: 'linear', title: { display: true, text: 'step' } },
          y: { type: 'linear', title: { display: true, text: 'nats per sample' } },
        },
        plugins: { title: { display: true, text: 'objective' }, legend: { position: 'bottom' } },
      },
    });
  }

  reset(title: string, unit: string): void {
    for (const ds of this.chart.data.datasets) ds.data = [];
    this.chart.data.datasets[2]!.hidden = true;
    this.chart.options.plugins!.title!.text = title;
    (this.chart.options.scales!.x as { title: { text: string } }).title.text = unit;
    this.chart.update();
  }

  add(series: 'train' | 'test', x: number, y: number): void {
    if (!Number.isFinite(y)) return;
    const ds = this.chart.data.datasets[series === 'train' ? 0 : 1]!;
    ds.data.push({ x, y });
  }

  /** a horizontal line spanning the plotted steps */
  setOptimum(y: number | undefined): void {
    const ds = this.chart.data.datasets[2]!;
    if (y === undefined || !Number.isFinite(y)) {
      ds.hidden = true;
      ds.data = [];
      return;
    }
    const xs = this.chart.data.datasets.slice(0, 2).flatMap((d) => d.data.map((p) => p.x));
    const x1 = Math.max(1, ...xs);
    ds.hidden = false;
    ds.data = [{ x: 0, y }, { x: x1, y }];
  }

  render(): void {
    const opt = this.chart.data.datasets[2]!;
    if (!opt.hidden && opt.data.length === 2) {
      const xs = this.chart.data.datasets.slice(0, 2).flatMap((d) => d.data.map((p) => p.x));
      opt.data[1]!.x = Math.max(1, ...xs);
    }
    this.chart.update('none');
  }

  points(series: 'train' | 'test'): { x: number; y: number }[] {
    return this.chart.data.datasets[series === 'train' ? 0 : 1]!.data;
  }
}

export class LatentScatter {
  private readonly chart: Chart<'scatter', { x: number; y: number }[]>;

  constructor(canvas: HTMLCanvasElement) {
    this.chart = new Chart(canvas, {
      type: 'scatter',
      data: { datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        scales: { x: { title: { display: true, text: 'z₁' } }, y: { title: { display: true, text: 'z₂' } } },
        plugins: { title: { display: true, text: 'test latent means' }, legend: { position: 'right' } },
      },
    });
  }

  /** points: rows×2; one dataset per label (or one when unlabelled) */
  set(points: Float32Array, labels: Uint8Array | undefined, axes: [string, string], title: string): void {
    const groups = new Map<number, { x: number; y: number }[]>();
    const rows = points.length / 2;
    for (let i = 0; i < rows; i++) {
      const g = labels ? labels[i]! : -1;
      let list = groups.get(g);
      if (!list) groups.set(g, (list = []));
      list.push({ x: points[2 * i]!, y: points[2 * i + 1]! });
    }
    this.chart.data.datasets = [...groups.keys()].sort((a, b) => a - b).map((g) => ({
      label: g < 0 ? 'test rows' : `digit ${g}`,
      // with parsing off Chart.js takes the data as sorted by x (it reads the x range off the ends)
      data: groups.get(g)!.sort((p, q) => p.x - q.x),
      pointRadius: 2,
      backgroundColor: PALETTE[(g < 0 ? 0 : g) % PALETTE.length],
      borderWidth: 0,
    }));
    const scales = this.chart.options.scales as { x: { title: { text: string } }; y: { title: { text: string } } };
    scales.x.title.text = axes[0];
    scales.y.title.text = axes[1];
    this.chart.options.plugins!.title!.text = title;
    this.chart.update('none');
  }

  clear(): void {
    this.chart.data.datasets = [];
    this.chart.update('none');
  }
}

/** Benchmark chart height: title, axis and legend, plus this much per row of bars. */
const BENCH_CHROME_PX = 110;
const BENCH_ROW_PX = 44;

export class BenchChart {
  private readonly chart: Chart<'bar', number[], string>;

  constructor(canvas: HTMLCanvasElement) {
    this.chart = new Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: 'y',
        scales: {
          x: { type: 'logarithmic', title: { display: true, text: 'higher is better (log scale)' } },
          // every row keeps its label (Chart.js otherwise drops labels that would overlap)
          y: { type: 'category', ticks: { autoSkip: false } },
        },
        plugins: { title: { display: true, text: 'WebGPU vs CPU' }, legend: { position: 'bottom' } },
      },
    });
  }

  set(labels: string[], series: { name: string; values: (number | null)[] }[]): void {
    // room for each row's bars and label: the box grows with the rows (the chart follows its box)
    const box = this.chart.canvas.parentElement;
    if (box) box.style.height = `${BENCH_CHROME_PX + BENCH_ROW_PX * labels.length}px`;
    this.chart.data.labels = labels;
    this.chart.data.datasets = series.map((s, i) => ({
      label: s.name,
      data: s.values.map((v) => v ?? 0),
      backgroundColor: PALETTE[i % PALETTE.length],
    }));
    this.chart.resize();
    this.chart.update('none');
  }

  /** the row labels the y axis draws now (every row's, unless they cannot fit) */
  shownLabels(): string[] {
    return this.chart.scales.y?.ticks.map((t) => String(t.label)) ?? [];
  }
}

/** One criterion of the d sweep: its value per d (higher is better) and the d it chooses. */
export interface SweepSeries {
  name: string;
  points: { x: number; y: number }[];
  chosen: number;
}

/** The d sweep: every criterion against d on one axis (nats per sample), each chosen d drawn as a large point. */
export class SweepChart {
  private readonly chart: Chart<'line', { x: number; y: number }[]>;

  constructor(canvas: HTMLCanvasElement) {
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: 'linear', title: { display: true, text: 'latent dimension d' }, ticks: { precision: 0 } },
          y: { type: 'linear', title: { display: true, text: 'nats per sample (higher is better)' } },
        },
        plugins: { title: { display: true, text: 'choosing d' }, legend: { position: 'bottom' } },
      },
    });
  }

  set(series: SweepSeries[], title: string): void {
    this.chart.data.datasets = series.map((s, i) => ({
      label: `${s.name} (chooses d = ${s.chosen})`,
      data: s.points,
      borderColor: PALETTE[i % PALETTE.length],
      backgroundColor: PALETTE[i % PALETTE.length],
      borderWidth: 1.5,
      pointRadius: s.points.map((p) => (p.x === s.chosen ? 7 : 2)),
      pointStyle: s.points.map((p) => (p.x === s.chosen ? 'rectRot' : 'circle')),
    }));
    this.chart.options.plugins!.title!.text = title;
    this.chart.update('none');
  }

  clear(): void {
    this.chart.data.datasets = [];
    this.chart.update('none');
  }

  /** the series' labels as drawn */
  labels(): string[] {
    return this.chart.data.datasets.map((d) => String(d.label));
  }
}
