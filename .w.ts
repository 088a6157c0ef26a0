import { Client, Connection } from '@temporalio/client';
const eventId = process.argv[2];
(async () => {
  const client = new Client({ connection: await Connection.connect({ address: '127.0.0.1:7233' }) });
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `EventId='${eventId}'` })) ids.push(wf.workflowId);
  const byType: Record<string, { runs: number; timedOut: number; failed: number; tasks: number; firstAt: string[] }> = {};
  for (const id of ids) {
    const type = id.split('-')[0];
    const b = (byType[type] ??= { runs: 0, timedOut: 0, failed: 0, tasks: 0, firstAt: [] });
    b.runs++;
    const { events } = await client.workflow.getHandle(id).fetchHistory();
    for (const e of events ?? []) {
      if (e.workflowTaskTimedOutEventAttributes) { b.timedOut++; const t = new Date(Number(e.eventTime?.seconds) * 1000).toISOString().slice(11, 19); if (b.firstAt.length < 50) b.firstAt.push(t); }
      if (e.workflowTaskFailedEventAttributes) b.failed++;
      if (e.workflowTaskCompletedEventAttributes) b.tasks++;
    }
  }
  for (const [t, b] of Object.entries(byType)) {
    const hist: Record<string, number> = {};
    for (const x of b.firstAt) hist[x] = (hist[x] ?? 0) + 1;
    console.log(t, b.runs, 'runs', b.tasks, 'tasks', b.timedOut, 'timed out', b.failed, 'failed', JSON.stringify(hist));
  }
})();
