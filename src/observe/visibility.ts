/**
 * What the read views take from Temporal's visibility store and histories: the failure listing the API
 * serves and the debugging CLI both read through here. Every "not found" and "cannot reach the server"
 * becomes an InspectError: one line for a person, never a stack trace.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export class InspectError extends Error {
  override name = 'InspectError';
}

/** A malformed command line (exit 2, where other InspectErrors exit 1). */
export class UsageError extends InspectError {}

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const NOT_FOUND = 5; // gRPC status NOT_FOUND
const UNAVAILABLE = 14;

/** No such workflow: the SDK's error, or the gRPC status a raw history read passes on. */
export const isNotFound = (err: unknown): boolean =>
  err instanceof WorkflowNotFoundError || (err as { code?: number })?.code === NOT_FOUND;

/** Turns the SDK's errors into one-line InspectErrors (other errors pass through). */
export function explain(err: unknown, workflowId?: string): unknown {
  if (err instanceof InspectError) return err;
  const code = (err as { code?: number })?.code;
  if (isNotFound(err)) {
    return new InspectError(`workflow not found: ${workflowId ?? '(unknown id)'}`);
  }
  if (
    code === UNAVAILABLE ||
    /ECONNREFUSED|UNAVAILABLE|failed to connect|Connection refused/i.test(String(err))
  ) {
    return new InspectError(`Temporal server not reachable: ${(err as Error).message.split('\n')[0]}`);
  }
  return err;
}

/** Only the close event of a run: one small read per failed workflow when listing thousands. */
export async function fetchCloseEvent(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<HistoryEvent | undefined> {
  try {
    const response = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      historyEventFilterType:
        temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
    });
    return response.history?.events?.[0] ?? undefined;
  } catch (err) {
    throw explain(err, workflowId);
  }
}

export interface ListedWorkflow {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  startedAt: number;
  closedAt?: number;
  eventId?: string;
}

/** A visibility query, newest first, at most `limit` rows; `total` counts every match. */
export async function listWorkflows(
  client: Client,
  query: string,
  limit: number,
): Promise<{ rows: ListedWorkflow[]; total: number }> {
  try {
    const rows: ListedWorkflow[] = [];
    for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
      const eventId = info.typedSearchAttributes.getAll().find((pair) => pair.key.name === 'EventId')?.value;
      rows.push({
        workflowId: info.workflowId,
        runId: info.runId,
        type: info.type,
        status: info.status.name,
        startedAt: info.startTime.getTime(),
        closedAt: info.closeTime?.getTime(),
        eventId: typeof eventId === 'string' ? eventId : undefined,
      });
      if (rows.length >= limit) break;
    }
    const total = rows.length < limit ? rows.length : (await client.workflow.count(query)).count;
    return { rows, total };
  } catch (err) {
    throw explain(err);
  }
}
