/**
 * What the debugging views read from Temporal beyond the visibility list: whole histories, as compact
 * timelines.
 */
import type { Client } from '@temporalio/client';
import { explain, type HistoryEvent } from '../../src/observe/visibility';
import { compactTimeline, type Timeline } from './history';

/** Every event of a run (the latest run unless `runId` is given). */
export async function fetchEvents(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<HistoryEvent[]> {
  try {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    return history.events ?? [];
  } catch (err) {
    throw explain(err, workflowId);
  }
}

export async function loadTimeline(client: Client, workflowId: string, runId?: string): Promise<Timeline> {
  return compactTimeline(workflowId, await fetchEvents(client, workflowId, runId));
}
