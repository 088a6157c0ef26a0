/**
 * Restores the read-side cache from the entities themselves (after a Redis flush or loss). The entities
 * are the truth; this reads each one from its history where that says all (a closed purchase's close
 * event, a seat's newest Update answer), with a Query otherwise, and writes it through the same
 * compare-and-set as live projections, so it can run while the system sells.
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
import type { temporal } from '@temporalio/proto';
import { EVENT_WORKFLOW_TYPE, eventWorkflowId, type EventEntityInput } from '../entities/event/contract';
import { queueSnapshotQuery, queueWorkflowId } from '../entities/queue/contract';
import {
  confirmSeatUpdate,
  EVENT_ID_SEARCH_ATTRIBUTE,
  holdSeatUpdate,
  releaseSeatUpdate,
  SEAT_STATUS_SEARCH_ATTRIBUTE,
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
  /** Calls in flight per event (REBUILD_CALLS_PER_EVENT when omitted). */
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

/** The seat's Updates that answer with its view after them (the others leave the view as it was). */
const VIEW_UPDATES = new Set<string>([holdSeatUpdate.name, confirmSeatUpdate.name, releaseSeatUpdate.name]);
/** The newest events of a seat's history read for its view: its last few workflow tasks. */
const SEAT_TAIL_EVENTS = 32;

/**
 * A seat's view read from the newest events of its history, with no worker replaying it: the answer of its
 * newest completed Update that answers with its view. Only when that answer is sure to be the seat's view
 * now: the status the seat last wrote to its SeatStatus search attribute (it does after every change, once
 * its answers are out) is the answer's, no Update is still open, and, for a held seat, no timer fired
 * since (it may have ended the hold). A first run that never answered one is a seat as it was created.
 * Undefined otherwise, and the seat is queried. After a worker was
 * killed every query is a replay on a cold cache, about a hundred seats a second here; this is one read.
 */
async function seatViewFromHistory(
  client: Client,
  workflowId: string,
  seatId: string,
): Promise<SeatView | undefined> {
  let events: temporal.api.history.v1.IHistoryEvent[] | null | undefined;
  try {
    const page = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
      client.workflowService.getWorkflowExecutionHistoryReverse({
        namespace: client.options.namespace,
        execution: { workflowId },
        maximumPageSize: SEAT_TAIL_EVENTS,
      }),
    );
    events = page.history?.events;
  } catch {
    return undefined; // not there yet, or the server slow: the query decides
  }
  const answers = new Map<string, temporal.api.common.v1.IPayload[] | undefined>();
  let listed: string | undefined;
  let timerFired = false;
  let view: temporal.api.common.v1.IPayload[] | undefined;
  // Newest first: an Update's completion comes before its acceptance, which names it. The newest upsert
  // may be older than the answer (an answer that changed nothing, a tombstone on a sold seat).
  for (const event of events ?? []) {
    const upsert = event.upsertWorkflowSearchAttributesEventAttributes;
    const status = upsert?.searchAttributes?.indexedFields?.[SEAT_STATUS_SEARCH_ATTRIBUTE.name];
    if (status?.data && listed === undefined)
      listed = String(JSON.parse(Buffer.from(status.data).toString()));
    if (event.timerFiredEventAttributes && !view) timerFired = true;
    const completed = event.workflowExecutionUpdateCompletedEventAttributes;
    if (completed && !view)
      answers.set(completed.meta?.updateId ?? '', completed.outcome?.success?.payloads ?? undefined);
    const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted && !view) {
      const id = accepted.acceptedRequest?.meta?.updateId ?? accepted.protocolInstanceId ?? '';
      if (!answers.has(id)) return undefined; // still open
      const name = accepted.acceptedRequest?.input?.name ?? '';
      const payloads = answers.get(id);
      if (VIEW_UPDATES.has(name) && payloads) view = payloads;
    }
    if (view && listed !== undefined) break;
    // The whole history of a first run: the seat was created available, and listed so (by its creator).
    const started = event.workflowExecutionStartedEventAttributes;
    if (started && !started.continuedExecutionRunId) {
      if (!view) return { seatId, status: 'available', version: 0 };
      listed ??= 'available';
    }
  }
  if (!view || listed === undefined) return undefined;
  const seat = await decodeFromPayloadsAtIndex<SeatView>(client.options.loadedDataConverter, 0, view);
  if (seat.status !== listed || (seat.status === 'held' && timerFired)) return undefined;
  return seat;
}

/**
 * How hard a rebuild leans on the Temporal server: calls in flight per event, and events at once. A
 * rebuild runs while the drop sells, on the same server: at 32 calls per event and 4 events (128 in
 * flight) a Redis flush during a 5,000-fan drop cost the purchases 4-5 workflow tasks timed out (a starved
 * store: each a lost task, its holds to release, its steps to retry); at 16 × 2 and 8 × 2, none in four
 * drops, for about 15 % longer until the whole cache is back (docs/BENCHMARKS.md).
 */
const REBUILD_CALLS_PER_EVENT = 16;
const EVENTS_AT_ONCE = 2;

/**
 * Rebuilds one event; `undefined` when no such event exists (or its seats are still being created: the
 * event is whole once every seat entity answers).
 */
export async function rebuildEvent(
  { client, cache, queueCache, purchaseCache, concurrency = REBUILD_CALLS_PER_EVENT }: RebuildDeps,
  eventId: string,
): Promise<{ seats: number } | undefined> {
  const record = await eventRecord(client, eventId);
  if (!record) return undefined;
  const { definition, closed } = record;
  const views = await mapLimit(
    seatIds(definition.rows, definition.seatsPerRow),
    concurrency,
    async (seatId) => {
      const workflowId = seatWorkflowId(eventId, seatId);
      try {
        return (
          (await seatViewFromHistory(client, workflowId, seatId)) ??
          (await askEntity(client, () => client.workflow.getHandle(workflowId).query(seatStateQuery)))
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
/** Tries per event in one rebuild before it is left to the next look. */
const EVENT_TRIES = 3;

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
  // A queue, newest first: an event that did not answer goes back in its place and is tried again as soon
  // as a slot is free (the event on sale is not left waiting for every older event's first try).
  const pending = [...ids];
  const order = new Map(ids.map((id, i) => [id, i]));
  const tries = new Map<string, number>();
  const requeue = (eventId: string) => {
    const at = pending.findIndex((id) => order.get(id)! > order.get(eventId)!);
    pending.splice(at === -1 ? pending.length : at, 0, eventId);
  };
  const slot = async (): Promise<void> => {
    for (let eventId = pending.shift(); eventId !== undefined; eventId = pending.shift()) {
      try {
        const rebuilt = await deps.client.withDeadline(Date.now() + EVENT_REBUILD_DEADLINE_MS, () =>
          rebuildEvent(deps, eventId!),
        );
        await options.onRebuilt?.(eventId);
        seats += rebuilt?.seats ?? 0;
      } catch (err) {
        const tried = (tries.get(eventId) ?? 0) + 1;
        tries.set(eventId, tried);
        if (tried < EVENT_TRIES) requeue(eventId);
        else failed.push({ eventId, error: describe(err) });
      }
    }
  };
  // Events rebuilt at once: one whose entities do not answer holds up only its own slot.
  await Promise.all(Array.from({ length: Math.min(EVENTS_AT_ONCE, ids.length) }, slot));
  return { events: ids.length - failed.length, seats, failed };
}

/** An error with its cause (a client error's own message is only "Failed to query Workflow"). */
function describe(err: unknown): string {
  const message = (err as Error).message;
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${message}: ${cause.message}` : message;
}
