/** What a drop cost Temporal, read from the histories of the event's workflows. */
import type { Client } from '@temporalio/client';
import { EVENT_ID_SEARCH_ATTRIBUTE } from '../../src/entities/seat/contract';
import { mapLimit } from '../../src/lib/concurrency';
import { TimelineBuilder, type Timeline } from './timeline';

/** What one kind of workflow of the event cost Temporal. */
export interface TypeCost {
  runs: number;
  events: number;
  workflowTasks: number;
}

/**
 * History events and workflow tasks of every workflow of the event (seats, queue, event, purchases,
 * confirmations), by workflow type too, and where the purchases spent their time.
 */
export async function historyEvents(
  client: Client,
  eventId: string,
): Promise<{
  events: number;
  workflowTasks: number;
  runs: number;
  byType: Record<string, TypeCost>;
  timeline: Timeline;
}> {
  const runs: { workflowId: string; runId: string; type: string }[] = [];
  const query = `${EVENT_ID_SEARCH_ATTRIBUTE.name} = '${eventId}'`;
  for await (const wf of client.workflow.list({ query }))
    runs.push({ workflowId: wf.workflowId, runId: wf.runId, type: wf.type });
  const timeline = new TimelineBuilder();
  const byType: Record<string, TypeCost> = {};
  await mapLimit(runs, 16, async ({ workflowId, runId, type }) => {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    timeline.add(type, events);
    const cost = (byType[type] ??= { runs: 0, events: 0, workflowTasks: 0 });
    cost.runs++;
    cost.events += events.length;
    cost.workflowTasks += events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
  });
  const all = Object.values(byType);
  return {
    events: all.reduce((a, b) => a + b.events, 0),
    workflowTasks: all.reduce((a, b) => a + b.workflowTasks, 0),
    runs: runs.length,
    byType,
    timeline: timeline.build(),
  };
}
