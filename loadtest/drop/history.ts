/** What a drop cost Temporal, read from the histories of the event's workflows. */
import type { Client } from '@temporalio/client';
import { EVENT_ID_SEARCH_ATTRIBUTE } from '../../src/entities/seat/contract';
import { mapLimit } from '../../src/lib/concurrency';
import { TimelineBuilder, type Timeline } from './timeline';

/**
 * History events and workflow tasks of every workflow of the event (seats, queue, event, purchases,
 * confirmations), and where the purchases spent their time.
 */
export async function historyEvents(
  client: Client,
  eventId: string,
): Promise<{ events: number; workflowTasks: number; timeline: Timeline }> {
  const runs: { workflowId: string; runId: string; type: string }[] = [];
  const query = `${EVENT_ID_SEARCH_ATTRIBUTE.name} = '${eventId}'`;
  for await (const wf of client.workflow.list({ query }))
    runs.push({ workflowId: wf.workflowId, runId: wf.runId, type: wf.type });
  const timeline = new TimelineBuilder();
  const counts = await mapLimit(runs, 16, async ({ workflowId, runId, type }) => {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    timeline.add(type, events);
    const tasks = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    return { events: events.length, workflowTasks: tasks };
  });
  return {
    events: counts.reduce((a, b) => a + b.events, 0),
    workflowTasks: counts.reduce((a, b) => a + b.workflowTasks, 0),
    timeline: timeline.build(),
  };
}
