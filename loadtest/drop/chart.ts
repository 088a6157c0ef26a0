/** The drop report's chart over time. */
import type { Sample } from './simulator';

const VEGA_LITE: string = 'vega-lite';

/** Sales, holds and fans waiting over time, as an SVG (Vega-Lite, rendered without a browser). */
export async function renderChart(samples: Sample[], title: string): Promise<string> {
  const vega = await import('vega');
  // vega-lite's types need 'bundler' module resolution; its one function used here is typed by hand.
  const vegaLite = (await import(VEGA_LITE)) as { compile(spec: unknown): { spec: object } };
  const values = samples.flatMap((s) => [
    { t: s.t, series: 'sold', count: s.sold, axis: 'seats' },
    { t: s.t, series: 'held', count: s.held, axis: 'seats' },
    { t: s.t, series: 'waiting in queue', count: s.waiting, axis: 'fans' },
  ]);
  const line = (axis: string, yTitle: string, colors: { domain: string[]; range: string[] }) => ({
    transform: [{ filter: `datum.axis === '${axis}'` }],
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'seconds after opening' },
      y: { field: 'count', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', scale: colors, title: null },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 260,
    data: { values },
    layer: [
      line('seats', 'seats', {
        domain: ['sold', 'held', 'waiting in queue'],
        range: ['#1b7837', '#e08214', '#2166ac'],
      }),
      line('fans', 'fans waiting', {
        domain: ['sold', 'held', 'waiting in queue'],
        range: ['#1b7837', '#e08214', '#2166ac'],
      }),
    ],
    resolve: { scale: { y: 'independent' } },
  };
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled as Parameters<typeof vega.parse>[0]), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
