/**
 * What the event routes do, apart from HTTP: create events through the event entity, and answer reads
 * from the read-side cache, repairing it from the entities when it has lost an event.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { rebuildEvent } from '../../../cache/rebuild';
import { queueCounts, type CachedQueueView, type QueueCache } from '../../../cache/queue-cache';
import type { CachedEvent, SeatCache, SeatCounts } from '../../../cache/seat-cache';
import {
  awaitEventReadyUpdate,
  capacityOf,
  closeEventUpdate,
  EVENT_DEFAULTS,
  EVENT_WORKFLOW_TYPE,
  eventDefinitionQuery,
  eventLifecycleQuery,
  eventWorkflowId,
  MAX_EVENT_CAPACITY,
  sameDefinition,
  type EventDefinition,
  type EventEntityInput,
  type EventStatus,
} from '../../../entities/event/contract';
import {
  EVENT_ID_SEARCH_ATTRIBUTE,
  seatIds,
  seatStateQuery,
  seatWorkflowId,
  type SeatView,
} from '../../../entities/seat/contract';
import { singleFlight } from '../../../lib/concurrency';
import { FailureCode } from '../../../failures';
import { HttpProblem } from '../../problem';
import type { CreateEventBody, EventSummary } from '../../schemas/events';

/** How long `POST /events` waits for the seat entities to exist before answering 503. */
const PROVISION_DEADLINE_MS = 120_000;

export function normalizeDefinition(body: CreateEventBody): EventDefinition {
  const capacity = capacityOf(body);
  if (capacity > MAX_EVENT_CAPACITY) {
    throw new HttpProblem(
      FailureCode.VALIDATION,
      `rows × seatsPerRow is ${capacity}; an event has at most ${MAX_EVENT_CAPACITY} seats`,
    );
  }
  const definition: EventDefinition = {
    eventId: body.eventId,
    name: body.name,
    rows: body.rows,
    seatsPerRow: body.seatsPerRow,
    priceCents: body.priceCents,
    holdTtlSeconds: body.holdTtlSeconds ?? EVENT_DEFAULTS.holdTtlSeconds,
    admission: body.admission ?? EVENT_DEFAULTS.admission,
    maxActivePurchases: body.maxActivePurchases ?? EVENT_DEFAULTS.maxActivePurchases,
    admissionTtlSeconds: body.admissionTtlSeconds ?? EVENT_DEFAULTS.admissionTtlSeconds,
  };
  if (body.waitingRoomCapacity !== undefined) definition.waitingRoomCapacity = body.waitingRoomCapacity;
  if (body.onSaleAt !== undefined) {
    // RFC 3339 allows a leap second (23:59:60), which JavaScript dates cannot hold.
    const at = Date.parse(body.onSaleAt);
    if (!Number.isFinite(at)) {
      throw new HttpProblem(
        FailureCode.VALIDATION,
        `onSaleAt ${body.onSaleAt} is not a time TicketDrop can hold`,
      );
    }
    definition.onSaleAt = new Date(at).toISOString();
  }
  return definition;
}

export function eventStatus(
  event: CachedEvent,
  counts: SeatCounts,
  queue?: CachedQueueView,
  now = Date.now(),
): EventStatus {
  if (event.closed) return 'closed';
  if (event.definition.onSaleAt && Date.parse(event.definition.onSaleAt) > now) return 'scheduled';
  if ((counts.available === 0 && counts.held === 0) || queue?.closed === 'sold-out') return 'sold-out';
  return 'on-sale';
}

/** A read from the cache; a cache that does not answer is a 503 (retry shortly), never a 500. */
export async function readCache<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch {
    throw new HttpProblem(FailureCode.UNAVAILABLE, 'the read-side cache is unavailable; retry shortly');
  }
}

export class EventService {
  private readonly recent = new Map<string, { at: number; event: CachedEvent }>();
  /**
   * Read-repair of an event the cache lost: one rebuild per event at a time in this process. After a
   * flush every fan's next request finds it missing; a rebuild each (a query per seat) was a storm that
   * kept Temporal and the worker's own rebuild busy for a minute, with every fan answered 503 meanwhile.
   */
  private readonly repair = singleFlight<string, { seats: number } | undefined>();

  constructor(
    private readonly client: Client,
    private readonly cache: SeatCache,
    private readonly taskQueue: string,
    private readonly queueCache?: QueueCache,
  ) {}

  /** Creates the event (or finds the identical one); resolves once every seat entity exists. */
  async create(definition: EventDefinition): Promise<{ created: boolean; summary: EventSummary }> {
    const workflowId = eventWorkflowId(definition.eventId);
    const handle = this.client.workflow.getHandle(workflowId);
    let created = true;
    try {
      const args: [EventEntityInput] = [{ definition }];
      await this.client.workflow.start(EVENT_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        args,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [{ key: EVENT_ID_SEARCH_ATTRIBUTE, value: definition.eventId }],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      created = false;
      const existing = await handle.query(eventDefinitionQuery);
      if (!sameDefinition(existing, definition)) {
        throw new HttpProblem(
          FailureCode.EVENT_EXISTS,
          `event ${definition.eventId} already exists with a different definition`,
        );
      }
    }
    // A new event is not ready yet: wait through the Update alone, without a Query racing the entity's
    // first workflow task (one round trip and one query task fewer per event created).
    const ready = created ? false : (await handle.query(eventLifecycleQuery)).ready;
    if (!ready) {
      await this.client.withDeadline(Date.now() + PROVISION_DEADLINE_MS, () =>
        handle.executeUpdate(awaitEventReadyUpdate),
      );
    }
    return { created, summary: await this.summary(definition.eventId) };
  }

  /** Closes the event: every seat entity finishes and later claims fail. Closing twice is a no-op. */
  async close(eventId: string): Promise<EventSummary> {
    const handle = this.client.workflow.getHandle(eventWorkflowId(eventId));
    let lifecycle;
    try {
      lifecycle = await handle.query(eventLifecycleQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new HttpProblem(FailureCode.NOT_FOUND, `no event ${eventId}`);
      throw err;
    }
    if (!lifecycle.closed) {
      await this.client.withDeadline(Date.now() + PROVISION_DEADLINE_MS, () =>
        handle.executeUpdate(closeEventUpdate),
      );
    }
    return this.summary(eventId);
  }

  async summary(eventId: string): Promise<EventSummary> {
    const event = await this.event(eventId);
    const counts = await readCache(() => this.cache.getCounts(eventId));
    const { definition } = event;
    const queue =
      definition.admission === 'queue'
        ? await this.queueCache?.get(eventId).catch(() => undefined)
        : undefined;
    return {
      eventId,
      name: definition.name,
      capacity: capacityOf(definition),
      ...counts,
      status: eventStatus(event, counts, queue),
      admission: definition.admission,
      priceCents: definition.priceCents,
      onSaleAt: definition.onSaleAt,
      queue: queueCounts(queue),
    };
  }

  /** The seat map in row order, from the cache (rebuilt first if the cache lost seats). */
  async seatMap(eventId: string): Promise<SeatView[]> {
    const { definition } = await this.event(eventId);
    const ids = seatIds(definition.rows, definition.seatsPerRow);
    let seats = await readCache(() => this.cache.getSeats(eventId));
    if (seats.size < ids.length) {
      await this.rebuild(eventId);
      seats = await readCache(() => this.cache.getSeats(eventId));
    }
    return ids.flatMap((seatId) => {
      const seat = seats.get(seatId);
      return seat ? [seat] : [];
    });
  }

  private rebuild(eventId: string): Promise<{ seats: number } | undefined> {
    return this.repair(eventId, () =>
      rebuildEvent({ client: this.client, cache: this.cache, queueCache: this.queueCache }, eventId),
    );
  }

  /** One seat, read from its entity: the authoritative view (needs no cache). */
  async seat(eventId: string, seatId: string): Promise<SeatView> {
    try {
      return await this.client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new HttpProblem(FailureCode.NOT_FOUND, `event ${eventId} has no seat ${seatId}`);
      }
      throw err;
    }
  }

  /**
   * The cached event, repaired from the event entity when the cache has lost it. With `maxAgeMs`, a copy
   * read that recently is good enough (hot paths: the definition never changes, closing is rare).
   */
  async event(eventId: string, maxAgeMs = 0): Promise<CachedEvent> {
    const memo = this.recent.get(eventId);
    if (memo && Date.now() - memo.at < maxAgeMs) return memo.event;
    const cached = await readCache(() => this.cache.getEvent(eventId));
    if (cached) {
      this.recent.set(eventId, { at: Date.now(), event: cached });
      return cached;
    }
    const rebuilt = await this.rebuild(eventId);
    const event = rebuilt && (await readCache(() => this.cache.getEvent(eventId)));
    if (!event) throw new HttpProblem(FailureCode.NOT_FOUND, `no event ${eventId}`);
    return event;
  }
}
