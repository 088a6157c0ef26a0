/**
 * The auditor: reads what really happened to an event from the sources of truth (seat entities,
 * purchase workflows, the queue entity, the payment and ticket ledger), never from the cache, and checks
 * TicketDrop's promises one invariant at a time. The cache is read only to check that it agrees.
 * `gatherTruth` does the reading, `checkInvariants` is pure, so tests can also audit planted facts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { PurchaseCache } from '../cache/purchase-cache';
import { QueueCache } from '../cache/queue-cache';
import type { RedisClient } from '../cache/redis';
import { SeatCache } from '../cache/seat-cache';
import { eventDefinitionQuery, eventWorkflowId, type EventDefinition } from '../entities/event/contract';
import {
  queueAdmissionLogQuery,
  queueSnapshotQuery,
  queueWorkflowId,
  type AdmissionLogEntry,
  type QueueView,
} from '../entities/queue/contract';
import {
  EVENT_ID_SEARCH_ATTRIBUTE,
  seatAuditQuery,
  seatIds,
  seatWorkflowId,
  type SeatAudit,
  type SeatView,
} from '../entities/seat/contract';
import { mapLimit } from '../lib/concurrency';
import { verifyToken } from '../lib/signing';
import type { ChargeRecord, ProviderStore, TicketRecord } from '../providers/store';
import {
  PURCHASE_WORKFLOW_TYPE,
  purchaseStatusQuery,
  QR_PURPOSE,
  TERMINAL_STATES,
  type PurchaseStatus,
} from '../sagas/purchase/contract';

/** How long past its expiry a hold may still show before it counts as stranded. */
export const HOLD_GRACE_MS = 5_000;

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

/** Reads the event's truth from its entities, its purchases and the ledger (and the cache, to compare). */
export async function gatherTruth(deps: AuditDeps, eventId: string): Promise<Truth> {
  const { client, store, caches, concurrency = 16 } = deps;
  let definition: EventDefinition;
  try {
    definition = await client.workflow.getHandle(eventWorkflowId(eventId)).query(eventDefinitionQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new Error(`no event ${eventId}`);
    throw err;
  }
  const ids = seatIds(definition.rows, definition.seatsPerRow);
  const seats = await mapLimit(ids, concurrency, (seatId) =>
    client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatAuditQuery),
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
    status: await client.workflow.getHandle(wf.workflowId).query(purchaseStatusQuery),
    startedAt: wf.startedAt,
    closedAt: wf.closedAt,
  }));

  let queue: Truth['queue'];
  let queueVersion: number | undefined;
  if (definition.admission === 'queue') {
    const handle = client.workflow.getHandle(queueWorkflowId(eventId));
    const read = async () => {
      const { log, dropped } = await handle.query(queueAdmissionLogQuery);
      return { view: await handle.query(queueSnapshotQuery), log, logDropped: dropped };
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
  const capacity = truth.definition.rows * truth.definition.seatsPerRow;
  const invariants: Invariant[] = [];
  const add = (name: string, counts: Record<string, number>, examples: string[]) =>
    invariants.push({ name, ok: examples.length === 0, counts, examples: examples.slice(0, 10) });

  const completed = truth.purchases.filter((p) => p.status.state === 'completed');
  const soldSeats = truth.seats.filter((s) => s.status === 'sold');
  const validTickets = truth.tickets.filter((t) => t.status === 'issued');

  // 1. Never more sold than there are seats.
  const oversold = Math.max(0, completed.length - capacity, soldSeats.length - capacity);
  add(
    'seats sold ≤ capacity',
    { capacity, soldSeats: soldSeats.length, completedPurchases: completed.length },
    oversold > 0 ? [`${oversold} more sales than seats`] : [],
  );

  // 2. Each sold seat: exactly one completed purchase, whose ticket the seat records and whose QR verifies.
  const bySeat = group(completed, (p) => p.status.seatId ?? '?');
  const ticketsBySeat = group(validTickets, (t) => t.seatId);
  const saleProblems: string[] = [];
  let doubleSold = 0;
  for (const seat of soldSeats) {
    const buyers = bySeat.get(seat.seatId) ?? [];
    const tickets = ticketsBySeat.get(seat.seatId) ?? [];
    if (buyers.length > 1 || tickets.length > 1) {
      doubleSold++;
      saleProblems.push(
        `${seat.seatId}: ${buyers.length} completed purchases, ${tickets.length} valid tickets`,
      );
      continue;
    }
    const [buyer] = buyers;
    if (!buyer) {
      saleProblems.push(`${seat.seatId}: sold, but no completed purchase`);
      continue;
    }
    const ticket = buyer.status.ticket;
    if (!ticket || ticket.ticketId !== seat.sale?.ticketId) {
      saleProblems.push(`${seat.seatId}: the seat records another ticket than ${buyer.status.purchaseId}'s`);
    } else if (!qrVerifies(ticket.qr, signingSecret, truth.eventId, seat.seatId, ticket.ticketId)) {
      saleProblems.push(`${seat.seatId}: the ticket QR of ${buyer.status.purchaseId} does not verify`);
    }
  }
  for (const [seatId, tickets] of ticketsBySeat) {
    if (soldSeats.some((s) => s.seatId === seatId)) continue;
    if (tickets.length > 1) doubleSold++;
    saleProblems.push(`${seatId}: ${tickets.length} valid ticket(s) for a seat that is not sold`);
  }
  const unsoldButCompleted = completed.filter(
    (p) => !soldSeats.some((s) => s.seatId === p.status.seatId && s.sale?.purchaseId === p.status.purchaseId),
  );
  for (const p of unsoldButCompleted)
    saleProblems.push(`${p.status.purchaseId} completed, but its seat is not sold to it`);
  add(
    'every sold seat has exactly one completed purchase whose ticket verifies',
    { soldSeats: soldSeats.length, doubleSold },
    saleProblems,
  );

  // 3. One ticket per fan.
  const perFan = group(validTickets, (t) => t.fanId);
  const twoTickets = [...perFan].filter(([, tickets]) => tickets.length > 1);
  add(
    'no fan holds two tickets',
    { fansWithTickets: perFan.size, fansWithTwo: twoTickets.length },
    twoTickets.map(([fan, t]) => `${fan} holds ${t.length} tickets`),
  );

  // 4. Every captured charge ends in a ticket (its seat sold to that purchase) or a refund.
  const soldTo = new Map(soldSeats.map((s) => [s.sale?.purchaseId, s]));
  const capturedSeen = new Set<string>();
  const chargedWithoutTicket = truth.charges.filter((c) => {
    if (c.status !== 'captured') return false;
    // A second captured charge for one purchase buys nothing: it counts as a charge without a ticket.
    if (capturedSeen.has(c.purchaseId)) return true;
    capturedSeen.add(c.purchaseId);
    const ticket = validTickets.find((t) => t.purchaseId === c.purchaseId);
    return !ticket || soldTo.get(c.purchaseId)?.sale?.ticketId !== ticket.ticketId;
  });
  add(
    'every charge has a ticket or a refund',
    {
      captured: truth.charges.filter((c) => c.status === 'captured').length,
      refunded: truth.charges.filter((c) => c.status === 'refunded').length,
      chargedWithoutTicket: chargedWithoutTicket.length,
    },
    chargedWithoutTicket.map((c) => `${c.chargeId} (${c.purchaseId}): captured, no ticket, no refund`),
  );

  // 5. No hold outlives its TTL (plus grace), and no hold belongs to a purchase that has ended.
  const running = new Set(
    truth.purchases.filter((p) => !TERMINAL_STATES.includes(p.status.state)).map((p) => p.status.purchaseId),
  );
  const stranded = truth.seats.filter(
    (s) =>
      s.status === 'held' &&
      ((s.holdExpiresAt ?? 0) + HOLD_GRACE_MS < truth.readAt || !s.hold || !running.has(s.hold.purchaseId)),
  );
  add(
    'no hold outlived its TTL by more than 5 s (or its purchase)',
    { held: truth.seats.filter((s) => s.status === 'held').length, stranded: stranded.length },
    stranded.map(
      (s) =>
        `${s.seatId}: held by ${s.hold?.purchaseId ?? '?'} until ${new Date(s.holdExpiresAt ?? 0).toISOString()}`,
    ),
  );

  // 6. Every fan reached a final state: no purchase still running; the queue has nobody left mid-way.
  const finalProblems = [...running].map((id) => `${id} is still running`);
  const q = truth.queue?.view;
  if (q) {
    if (q.purchasing > 0) finalProblems.push(`${q.purchasing} purchases still hold a queue slot`);
    if (!q.closed && q.admittedThrough < q.joined) {
      finalProblems.push(`${q.joined - q.admittedThrough} fans still wait while seats remain`);
    }
  }
  add(
    'every fan that joined reached a final state',
    { joined: q?.joined ?? 0, admitted: q?.admittedThrough ?? 0, runningPurchases: running.size },
    finalProblems,
  );

  // 7. Admission never inverted position order.
  const inversions: string[] = [];
  if (truth.queue) {
    // When the entity dropped its oldest entries, the check starts at the first one it kept.
    let through = truth.queue.logDropped > 0 && truth.queue.log.length > 0 ? truth.queue.log[0][0] - 1 : 0;
    let lastAt = 0;
    for (const [from, to, at] of truth.queue.log) {
      if (from !== through + 1 || to < from) inversions.push(`admitted ${from}-${to} after ${through}`);
      if (at < lastAt) inversions.push(`admission of ${from}-${to} is dated before the one before it`);
      through = Math.max(through, to);
      lastAt = Math.max(lastAt, at);
    }
    const admittedAt = (position: number) =>
      truth.queue!.log.find(([from, to]) => position >= from && position <= to)?.[2];
    for (const p of truth.purchases) {
      const position = p.status.position;
      if (position === undefined) {
        inversions.push(`${p.status.purchaseId} bought without an admission`);
        continue;
      }
      const at = admittedAt(position);
      if (at === undefined)
        inversions.push(`${p.status.purchaseId} used position ${position}, never admitted`);
      else if (p.startedAt + 1_000 < at)
        inversions.push(`${p.status.purchaseId} started before position ${position} was admitted`);
    }
  }
  add(
    'admission order never inverted position order',
    { admissions: truth.queue?.log.length ?? 0, inversions: inversions.length },
    inversions,
  );

  // 8. The cache agrees with the entities.
  const mismatches: string[] = [];
  if (truth.cache) {
    for (const seat of truth.seats) {
      const cached = truth.cache.seats.get(seat.seatId);
      if (!cached || cached.status !== seat.status || cached.version !== seat.version) {
        mismatches.push(
          `${seat.seatId}: cache ${cached ? `${cached.status} v${cached.version}` : 'missing'}, entity ${seat.status} v${seat.version}`,
        );
      }
    }
    for (const status of ['available', 'held', 'sold'] as const) {
      const actual = truth.seats.filter((s) => s.status === status).length;
      if ((truth.cache.counts[status] ?? 0) !== actual) {
        mismatches.push(`count ${status}: cache ${truth.cache.counts[status] ?? 0}, entities ${actual}`);
      }
    }
    if (q && truth.cache.queueVersion !== q.version) {
      mismatches.push(`queue view: cache v${truth.cache.queueVersion ?? 'missing'}, entity v${q.version}`);
    }
    for (const p of truth.purchases) {
      const cached = truth.cache.purchases.get(p.status.purchaseId);
      if (cached?.state !== p.status.state) {
        mismatches.push(
          `${p.status.purchaseId}: cache ${cached?.state ?? 'missing'}, workflow ${p.status.state}`,
        );
      }
    }
  }
  add(
    'the cache agrees with the entities',
    {
      compared: truth.cache ? truth.seats.length + truth.purchases.length : 0,
      mismatches: mismatches.length,
    },
    mismatches,
  );

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
      capacity,
      sold: soldSeats.length,
      oversold,
      doubleSold,
      chargedWithoutTicket: chargedWithoutTicket.length,
      strandedHolds: stranded.length,
      purchases: truth.purchases.length,
      running: running.size,
      admissionInversions: inversions.length,
      cacheMismatches: mismatches.length,
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

function qrVerifies(qr: string, secret: string, eventId: string, seatId: string, ticketId: string): boolean {
  const claims = verifyToken<{ t: string; e: string; s: string }>(secret, QR_PURPOSE, qr);
  return claims?.t === ticketId && claims.e === eventId && claims.s === seatId;
}

function group<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}
