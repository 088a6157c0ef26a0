/**
 * Restores the read-side cache from the entities themselves (after a Redis flush or loss). The entities
 * are the truth; this reads each one with a Query and writes it through the same compare-and-set as
 * live projections, so it can run while the system sells.
 */
import {
  ApplicationFailure,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { mapLimit, withRetries } from '../lib/concurrency';
import { isNotFound } from '../observe/visibility';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { EVENT_WORKFLOW_TYPE, eventWorkflowId, type EventEntityInput } from '../entities/event/contract';
import { queueSnapshotQuery, queueWorkflowId } from '../entities/queue/contract';
import {
  EVENT_ID_SEARCH_ATTRIBUTE,
  seatIds,
  seatStateQuery,
  seatWorkflowId,
  type SeatView,
} from '../entities/seat/contract';
import { PURCHASE_WORKFLOW_TYPE, purchaseStatusQuery, type PurchaseStatus } from '../sagas/purchase/contract';
import type { PurchaseCache } from './purchase-cache';
import type { QueueCache } from './queue-cache';
import type { SeatCache } from './seat-cache';

export interface RebuildDeps {
  client: Client;
  cache: SeatCache;
  /** When given, a queue event's waiting-room view is restored too. */
  queueCache?: QueueCache;
  /**
   * When given, every purchase's status too (one query per purchase: for the worker's start-up and the
   * CLI, not for a request's read-repair, where a missing purchase is repaired when it is read).
   */
  purchaseCache?: PurchaseCache;
  concurrency?: number;
}

/**
 * A closed purchase's final status, from its close event alone (no worker replays it): a completed
 * purchase returns it, a failed one carries it in its failure's details. Undefined for purchases closed
 * before the failure carried it, or closed otherwise (terminated): those are queried.
 */
async function closedPurchaseStatus(client: Client, workflowId: string): Promise<PurchaseStatus | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).result()) as PurchaseStatus;
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) {
      const [status] = err.cause.details ?? [];
      if (status && typeof status === 'object' && 'state' in status) return status as PurchaseStatus;
    }
    return undefined;
  }
}

/** One query's time to answer, and tries: a seat answers in milliseconds when a worker has it. */
const QUERY_DEADLINE_MS = 5_000;
const QUERY_ATTEMPTS = 4;

/**
 * Asks one entity, each try with its own short deadline. Right after a worker was killed, a query may wait
 * on the dead worker's sticky queue until the server gives up on it; the next try reaches a live worker.
 */
const askEntity = <T>(client: Client, query: () => Promise<T>): Promise<T> =>
  withRetries(() => client.withDeadline(Date.now() + QUERY_DEADLINE_MS, query), {
    attempts: QUERY_ATTEMPTS,
    fatal: (err) => err instanceof WorkflowNotFoundError,
  });

/**
 * An event's definition and whether it is closed, from its entity's history: the definition is the run's
 * input, and the event is closed once the run has ended. The server answers without a worker, so an
 * event entity that is slow to answer a Query (its worker busy, or the SDK's worker wedged on its run)
 * holds nothing back.
 */
async function eventRecord(
  client: Client,
  eventId: string,
): Promise<{ definition: EventEntityInput['definition']; closed: boolean } | undefined> {
  let events;
  try {
    ({ events } = await client.workflow.getHandle(eventWorkflowId(eventId)).fetchHistory());
  } catch (err) {
    if (isNotFound(err)) return undefined; // no such event
    throw err;
  }
  const started = events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) return undefined;
  const input = await decodeFromPayloadsAtIndex<EventEntityInput>(
    client.options.loadedDataConverter,
    0,
    started.input?.payloads,
  );
  const last = events!.at(-1)!;
  const closed = Boolean(last.workflowExecutionCompletedEventAttributes);
  return { definition: input.definition, closed };
}

/**
 * Rebuilds one event; `undefined` when no such event exists (or its seats are still being created: the
 * event is whole once every seat entity answers).
 */
export async function rebuildEvent(
  { client, cache, queueCache, purchaseCache, concurrency = 32 }: RebuildDeps,
  eventId: string,
): Promise<{ seats: number } | undefined> {
  const record = await eventRecord(client, eventId);
  if (!record) return undefined;
  const { definition, closed } = record;
  const views = await mapLimit(
    seatIds(definition.rows, definition.seatsPerRow),
    concurrency,
    async (seatId) => {
      try {
        return await askEntity(client, () =>
          client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatStateQuery),
        );
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined; // not provisioned yet
        throw err;
      }
    },
  );
  const found = views.filter((v): v is SeatView => v !== undefined);
  if (found.length < views.length) return undefined; // still being provisioned
  await cache.projectSeats(eventId, found);
  await cache.recount(eventId);
  await cache.putEvent({ definition, closed });
  if (queueCache && definition.admission === 'queue') {
    try {
      await queueCache.project(
        await client.workflow.getHandle(queueWorkflowId(eventId)).query(queueSnapshotQuery),
      );
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // not provisioned yet
    }
  }
  if (purchaseCache) {
    const purchases: { id: string; running: boolean }[] = [];
    const query = `WorkflowType = '${PURCHASE_WORKFLOW_TYPE}' AND ${EVENT_ID_SEARCH_ATTRIBUTE.name} = '${eventId}'`;
    for await (const wf of client.workflow.list({ query }))
      purchases.push({ id: wf.workflowId, running: wf.status.name === 'RUNNING' });
    await mapLimit(purchases, concurrency, async ({ id, running }) => {
      const status = running ? undefined : await closedPurchaseStatus(client, id);
      await purchaseCache.project(
        status ?? (await askEntity(client, () => client.workflow.getHandle(id).query(purchaseStatusQuery))),
      );
    });
  }
  return { seats: found.length };
}

/**
 * How long a rebuild waits for one event's own calls (its definition, the purchase list) before it
 * leaves that event for the next attempt; each entity query has its own shorter deadline and tries.
 */
const EVENT_REBUILD_DEADLINE_MS = 30_000;
/** Events rebuilt at once: one whose entities do not answer holds up only its own slot. */
const EVENTS_AT_ONCE = 4;

/**
 * Rebuilds every open event (of `taskQueue`, when given) but those in `skip`, newest first (the event on
 * sale now is whole again before old ones). An event whose entities do not answer in time is left out
 * and named in `failed`: it does not hold up the others. `onRebuilt` hears of each event once it is
 * whole; when it throws, that event counts as failed.
 */
export async function rebuildAll(
  deps: RebuildDeps,
  options: {
    taskQueue?: string;
    skip?: ReadonlySet<string>;
    onRebuilt?: (eventId: string) => Promise<void>;
  } = {},
): Promise<{ events: number; seats: number; failed: { eventId: string; error: string }[] }> {
  const open: { eventId: string; startedMs: number }[] = [];
  const query = `WorkflowType = '${EVENT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
  for await (const wf of deps.client.workflow.list({ query })) {
    // Only the events this deployment serves (`taskQueue`): another's are its own workers' to rebuild.
    if (options.taskQueue && wf.taskQueue !== options.taskQueue) continue;
    const eventId = wf.workflowId.replace(/^event-/, '');
    if (options.skip?.has(eventId)) continue;
    open.push({ eventId, startedMs: wf.startTime.getTime() });
  }
  const ids = open.sort((a, b) => b.startedMs - a.startedMs).map((e) => e.eventId);
  let seats = 0;
  const failed: { eventId: string; error: string }[] = [];
  await mapLimit(ids, EVENTS_AT_ONCE, async (eventId) => {
    try {
      const rebuilt = await deps.client.withDeadline(Date.now() + EVENT_REBUILD_DEADLINE_MS, () =>
        rebuildEvent(deps, eventId),
      );
      await options.onRebuilt?.(eventId);
      seats += rebuilt?.seats ?? 0;
    } catch (err) {
      failed.push({ eventId, error: (err as Error).message });
    }
  });
  return { events: ids.length - failed.length, seats, failed };
}
