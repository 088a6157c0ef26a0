/**
 * The auditor: reads what really happened to an event from the sources of truth (seat entities,
 * purchase workflows, the queue entity, the payment and ticket ledger), never from the cache, and checks
 * TicketDrop's promises one invariant at a time (the table in checks.ts). The cache is read only to check
 * that it agrees. `gatherTruth` does the reading, `checkInvariants` is pure, so tests can also audit
 * planted facts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { PurchaseCache } from '../../src/cache/purchase-cache';
import { QueueCache } from '../../src/cache/queue-cache';
import type { RedisClient } from '../../src/cache/redis';
import { SeatCache } from '../../src/cache/seat-cache';
import {
  eventDefinitionQuery,
  eventWorkflowId,
  type EventDefinition,
} from '../../src/entities/event/contract';
import {
  queueAdmissionLogQuery,
  queueSnapshotQuery,
  queuePlacesQuery,
  queueWorkflowId,
  type AdmissionLogEntry,
  type QueueView,
} from '../../src/entities/queue/contract';
import {
  EVENT_ID_SEARCH_ATTRIBUTE,
  seatAuditQuery,
  seatIds,
  seatWorkflowId,
  type SeatAudit,
  type SeatView,
} from '../../src/entities/seat/contract';
import { mapLimit, withRetries } from '../../src/lib/concurrency';
import type { ChargeRecord, ProviderStore, TicketRecord } from '../../src/providers/store';
import {
  PURCHASE_WORKFLOW_TYPE,
  purchaseStatusQuery,
  type PurchaseStatus,
} from '../../src/sagas/purchase/contract';
import { CHECKS, deriveFacts, type CountedFigure } from './checks';

export interface AuditedPurchase {
  status: PurchaseStatus;
  startedAt: number;
  closedAt?: number;
}

/** Everything the auditor read, at one moment. */
export interface Truth {
  eventId: string;
  readAt: number;
  definition: EventDefinition;
  seats: SeatAudit[];
  purchases: AuditedPurchase[];
  charges: ChargeRecord[];
  tickets: TicketRecord[];
  queue?: { view: QueueView; log: AdmissionLogEntry[]; logDropped: number };
  cache?: {
    seats: Map<string, SeatView>;
    counts: Record<string, number>;
    queueVersion?: number;
    purchases: Map<string, PurchaseStatus | undefined>;
  };
}

export interface Invariant {
  name: string;
  ok: boolean;
  counts: Record<string, number>;
  /** The first few violations, described. */
  examples: string[];
}

export interface AuditReport {
  eventId: string;
  at: string;
  ok: boolean;
  invariants: Invariant[];
  /** The headline figures, for reports. */
  figures: {
    capacity: number;
    sold: number;
    oversold: number;
    doubleSold: number;
    chargedWithoutTicket: number;
    strandedHolds: number;
    purchases: number;
    running: number;
    admissionInversions: number;
    cacheMismatches: number;
    failuresByCode: Record<string, number>;
  };
}

export interface AuditDeps {
  client: Client;
  store: ProviderStore;
  signingSecret: string;
  caches?: { seats: SeatCache; queue: QueueCache; purchases: PurchaseCache };
  concurrency?: number;
}

/** The read-side caches the auditor compares with the entities. */
export function auditCaches(redis: RedisClient): NonNullable<AuditDeps['caches']> {
  return { seats: new SeatCache(redis), queue: new QueueCache(redis), purchases: new PurchaseCache(redis) };
}

/**
 * Reads an entity and then its cached version until the two agree, at most `tries` times: an entity may
 * still change while the audit reads it (after a drop, a waiting room goes on lapsing unused admissions)
 * and its cache follows each change a moment later, so a single read of each can catch them apart.
 * Returns the last pair read; a cache that never catches up is still told apart.
 */
export async function readSettled<T>(
  readEntity: () => Promise<T>,
  version: (entity: T) => number,
  readCachedVersion: () => Promise<number | undefined>,
  { tries = 5, pauseMs = 200 }: { tries?: number; pauseMs?: number } = {},
): Promise<{ entity: T; cachedVersion: number | undefined }> {
  for (let attempt = 1; ; attempt++) {
    const entity = await readEntity();
    const cachedVersion = await readCachedVersion();
    if (cachedVersion === version(entity) || attempt >= tries) return { entity, cachedVersion };
    await sleep(pauseMs);
  }
}

/**
 * One query, asked again on failure: right after a fault a worker may still be replaying (the query
 * fails while the entity is fine), and an audit must read the truth rather than fail on the way.
 */
const ask = <T>(query: () => Promise<T>): Promise<T> =>
  withRetries(query, { attempts: 5, gapMs: 1_000, fatal: (err) => err instanceof WorkflowNotFoundError });

/** Reads the event's truth from its entities, its purchases and the ledger (and the cache, to compare). */
export async function gatherTruth(deps: AuditDeps, eventId: string): Promise<Truth> {
  const { client, store, caches, concurrency = 16 } = deps;
  let definition: EventDefinition;
  try {
    definition = await ask(() =>
      client.workflow.getHandle(eventWorkflowId(eventId)).query(eventDefinitionQuery),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new Error(`no event ${eventId}`);
    throw err;
  }
  const ids = seatIds(definition.rows, definition.seatsPerRow);
  const seats = await mapLimit(ids, concurrency, (seatId) =>
    ask(() => client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatAuditQuery)),
  );

  const listed: { workflowId: string; startedAt: number; closedAt?: number }[] = [];
  const query = `WorkflowType = '${PURCHASE_WORKFLOW_TYPE}' AND ${EVENT_ID_SEARCH_ATTRIBUTE.name} = '${eventId}'`;
  for await (const wf of client.workflow.list({ query })) {
    listed.push({
      workflowId: wf.workflowId,
      startedAt: wf.startTime.getTime(),
      closedAt: wf.closeTime?.getTime(),
    });
  }
  const purchases = await mapLimit(listed, concurrency, async (wf) => ({
    status: await ask(() => client.workflow.getHandle(wf.workflowId).query(purchaseStatusQuery)),
    startedAt: wf.startedAt,
    closedAt: wf.closedAt,
  }));

  let queue: Truth['queue'];
  let queueVersion: number | undefined;
  if (definition.admission === 'queue') {
    const handle = client.workflow.getHandle(queueWorkflowId(eventId));
    const read = async () => {
      const { log, dropped } = await ask(() => handle.query(queueAdmissionLogQuery));
      return { view: await ask(() => handle.query(queueSnapshotQuery)), log, logDropped: dropped };
    };
    if (caches) {
      const settled = await readSettled(
        read,
        (q) => q.view.version,
        async () => (await caches.queue.get(eventId))?.version,
      );
      queue = settled.entity;
      queueVersion = settled.cachedVersion;
    } else {
      queue = await read();
    }
  }

  const truth: Truth = {
    eventId,
    readAt: Date.now(),
    definition,
    seats,
    purchases,
    charges: store.chargesForEvent(eventId),
    tickets: store.ticketsForEvent(eventId),
    queue,
  };
  if (caches) {
    const cachedPurchases = new Map<string, PurchaseStatus | undefined>();
    for (const p of purchases) {
      cachedPurchases.set(p.status.purchaseId, await caches.purchases.get(eventId, p.status.fanId));
    }
    truth.cache = {
      seats: await caches.seats.getSeats(eventId),
      counts: await caches.seats.getCounts(eventId),
      queueVersion,
      purchases: cachedPurchases,
    };
  }
  return truth;
}

/** Checks every invariant over what was read. Pure: time is the moment the truth was read. */
export function checkInvariants(truth: Truth, signingSecret: string): AuditReport {
  const facts = deriveFacts(truth, signingSecret);
  const invariants: Invariant[] = [];
  const counted = {} as Record<CountedFigure, number>;
  for (const { name, check, figure } of CHECKS) {
    const { counts, violations } = check(facts);
    invariants.push({ name, ok: violations.length === 0, counts, examples: violations.slice(0, 10) });
    if (figure) counted[figure[0]] = counts[figure[1]];
  }
  const failuresByCode: Record<string, number> = {};
  for (const p of truth.purchases) {
    if (p.status.failure)
      failuresByCode[p.status.failure.code] = (failuresByCode[p.status.failure.code] ?? 0) + 1;
  }
  return {
    eventId: truth.eventId,
    at: new Date(truth.readAt).toISOString(),
    ok: invariants.every((i) => i.ok),
    invariants,
    figures: {
      capacity: facts.capacity,
      sold: facts.soldSeats.length,
      oversold: facts.oversold,
      doubleSold: counted.doubleSold,
      chargedWithoutTicket: counted.chargedWithoutTicket,
      strandedHolds: counted.strandedHolds,
      purchases: truth.purchases.length,
      running: facts.running.size,
      admissionInversions: counted.admissionInversions,
      cacheMismatches: counted.cacheMismatches,
      failuresByCode,
    },
  };
}

/**
 * Reads and checks. The sources are read one after another while the last messages may still be landing
 * (a projection, a purchase telling the queue it ended), so a violation is read again (for up to
 * `settleMs`) before it counts: a real one stays.
 */
export async function audit(deps: AuditDeps, eventId: string, settleMs = 10_000): Promise<AuditReport> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const report = checkInvariants(await gatherTruth(deps, eventId), deps.signingSecret);
    if (report.ok || Date.now() >= deadline) return report;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** The invariants as text, one line each with its counts, then the first violations. */
export function formatAudit(report: AuditReport): string {
  const lines = [
    `audit of ${report.eventId} at ${report.at}: ${report.ok ? 'every invariant holds' : 'VIOLATIONS'}`,
  ];
  for (const inv of report.invariants) {
    const counts = Object.entries(inv.counts)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    lines.push(`  ${inv.ok ? 'ok  ' : 'FAIL'} ${inv.name} (${counts})`);
    for (const example of inv.examples) lines.push(`         - ${example}`);
  }
  return lines.join('\n');
}

/** Fans per places query: the answer stays small. */
const PLACES_BATCH = 1_000;

/**
 * The chaos audit's join check: every fan that got a 2xx join is in the waiting room at the place that
 * answer gave it (a join the API acknowledged and then lost, or a place that moved, is a violation).
 */
export async function auditAcknowledgedJoins(
  client: Client,
  eventId: string,
  joins: { fanId: string; position: number }[],
): Promise<Invariant> {
  const handle = client.workflow.getHandle(queueWorkflowId(eventId));
  const examples: string[] = [];
  let missing = 0;
  let moved = 0;
  for (let i = 0; i < joins.length; i += PLACES_BATCH) {
    const batch = joins.slice(i, i + PLACES_BATCH);
    const places = await ask(() =>
      handle.query(
        queuePlacesQuery,
        batch.map((j) => j.fanId),
      ),
    );
    batch.forEach((join, k) => {
      const place = places[k] ?? 0;
      if (place === join.position) return;
      if (place === 0) missing++;
      else moved++;
      if (examples.length < 5) {
        examples.push(
          `${join.fanId} was answered place ${join.position}; the waiting room has ${place === 0 ? 'no such fan' : `place ${place}`}`,
        );
      }
    });
  }
  return {
    name: 'every acknowledged join is in the waiting room at its place',
    ok: missing === 0 && moved === 0,
    counts: { acknowledged: joins.length, missing, moved },
    examples,
  };
}
