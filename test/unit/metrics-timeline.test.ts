import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsTimelineTable } from '../../loadtest/drop/markdown';
import { sumSamples, watchMetrics } from '../../loadtest/drop/metrics-timeline';

const exposition = `# HELP ticketdrop_purchases_ended_total Purchases ended
# TYPE ticketdrop_purchases_ended_total counter
ticketdrop_purchases_ended_total{code="none",outcome="completed",taskQueue="ticketdrop"} 12
ticketdrop_purchases_ended_total{code="SOLD_OUT",outcome="failed",taskQueue="ticketdrop"} 3
ticketdrop_purchases_ended_total{code="PAYMENT_DECLINED",outcome="failed",taskQueue="ticketdrop"} 2
ticketdrop_purchases_ended_totalish{outcome="failed"} 100
ticketdrop_seat_holds_total{outcome="HOLD_LATE"} 4
ticketdrop_seat_holds_total{outcome="no answer"} 5
ticketdrop_seat_holds_total{outcome="held"} 40
`;

describe("a chaos drop's metrics timeline", () => {
  it('adds up the samples of a counter whose labels match', () => {
    const ended = 'ticketdrop_purchases_ended_total';
    expect(sumSamples(exposition, { metric: ended, where: { outcome: 'failed' } })).toBe(5);
    expect(sumSamples(exposition, { metric: ended })).toBe(17);
    const late = { metric: 'ticketdrop_seat_holds_total', where: { outcome: ['HOLD_LATE', 'no answer'] } };
    expect(sumSamples(exposition, late)).toBe(9);
  });

  it('counts how much each counter grew per bucket, from zero again after a restart', async () => {
    const values = [5, 7, 2, 4]; // the process restarted after the second scrape
    let scrape = 0;
    const server: Server = createServer((_req, res) => {
      const value = values[Math.min(scrape++, values.length - 1)];
      res.end(`ticketdrop_supervisor_restarts_total{service="worker"} ${value}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const openedAt = Date.now();
    const watch = watchMetrics({ supervisor: `http://127.0.0.1:${port}/metrics` }, () => openedAt, {
      everyMs: 40,
      bucketSec: 60,
      series: [{ label: 'restarts', endpoint: 'supervisor', metric: 'ticketdrop_supervisor_restarts_total' }],
    });
    while (scrape < values.length) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const timeline = watch.stop();
    server.close();
    expect(timeline.labels).toEqual(['restarts']);
    expect(timeline.rows).toEqual([{ t: 0, values: [2 + 2 + 2] }]);
    const table = metricsTimelineTable(timeline, [{ kind: 'worker-kill', atMs: 100, detail: 'SIGKILL' }]);
    expect(table).toContain('| 0 | 6 | worker-kill |');
  });
});
