/**
 * TicketDrop's promises as a table of named checks, the shape of the drop report's targets: each entry
 * names an invariant and evaluates it over what the auditor read. Pure, so tests can check planted facts.
 */
import { verifyToken } from '../../src/lib/signing';
import { QR_PURPOSE, TERMINAL_STATES } from '../../src/sagas/purchase/contract';
import type { AuditReport, Truth } from './auditor';

/** How long past its expiry a hold may still show before it counts as stranded. */
export const HOLD_GRACE_MS = 5_000;
/**
 * How long a seat must have been on sale before a purchase ended SOLD_OUT for that to be a false answer:
 * the picks read the cache, which shows a seat's change within milliseconds when healthy; a purchase
 * that found every seat taken tries again within this time.
 */
export const SOLD_OUT_LAG_MS = 2_000;

/** The truth, and what several checks (and the headline figures) derive from it alike. */
export interface Facts {
  truth: Truth;
  signingSecret: string;
  capacity: number;
  completed: Truth['purchases'];
  soldSeats: Truth['seats'];
  validTickets: Truth['tickets'];
  /** Purchases not yet in a terminal state, by id. */
  running: Set<string>;
  oversold: number;
}

/** The headline figures a check's count gives the reports. */
export type CountedFigure = keyof Pick<
  AuditReport['figures'],
  'doubleSold' | 'chargedWithoutTicket' | 'strandedHolds' | 'admissionInversions' | 'cacheMismatches'
>;

/** An invariant: its name, and what it counts and finds broken in the facts. */
export interface Check {
  name: string;
  check: (facts: Facts) => { counts: Record<string, number>; violations: string[] };
  /** The headline figure one of its counts gives the reports: [figure, count]. */
  figure?: [CountedFigure, string];
}

export function deriveFacts(truth: Truth, signingSecret: string): Facts {
  const capacity = truth.definition.rows * truth.definition.seatsPerRow;
  const completed = truth.purchases.filter((p) => p.status.state === 'completed');
  const soldSeats = truth.seats.filter((s) => s.status === 'sold');
  return {
    truth,
    signingSecret,
    capacity,
    completed,
    soldSeats,
    validTickets: truth.tickets.filter((t) => t.status === 'issued'),
    running: new Set(
      truth.purchases
        .filter((p) => !TERMINAL_STATES.includes(p.status.state))
        .map((p) => p.status.purchaseId),
    ),
    oversold: Math.max(0, completed.length - capacity, soldSeats.length - capacity),
  };
}

export const CHECKS: Check[] = [
  {
    name: 'seats sold ≤ capacity',
    check: ({ capacity, soldSeats, completed, oversold }) => ({
      counts: { capacity, soldSeats: soldSeats.length, completedPurchases: completed.length },
      violations: oversold > 0 ? [`${oversold} more sales than seats`] : [],
    }),
  },
  {
    // Each sold seat: exactly one completed purchase, whose ticket the seat records and whose QR verifies.
    name: 'every sold seat has exactly one completed purchase whose ticket verifies',
    check: soldOnce,
    figure: ['doubleSold', 'doubleSold'],
  },
  {
    name: 'no fan holds two tickets',
    check: ({ validTickets }) => {
      const perFan = group(validTickets, (t) => t.fanId);
      const twoTickets = [...perFan].filter(([, tickets]) => tickets.length > 1);
      return {
        counts: { fansWithTickets: perFan.size, fansWithTwo: twoTickets.length },
        violations: twoTickets.map(([fan, t]) => `${fan} holds ${t.length} tickets`),
      };
    },
  },
  {
    // A captured charge ends in a ticket (its seat sold to that purchase) or a refund.
    name: 'every charge has a ticket or a refund',
    check: chargesEndWell,
    figure: ['chargedWithoutTicket', 'chargedWithoutTicket'],
  },
  {
    name: 'every fan charged at most once per purchase',
    check: ({ truth }) => {
      const charged = truth.charges.filter((c) => c.status !== 'declined');
      const twice = [...group(charged, (c) => c.purchaseId)].filter(([, charges]) => charges.length > 1);
      return {
        counts: {
          purchasesCharged: new Set(charged.map((c) => c.purchaseId)).size,
          chargedTwice: twice.length,
        },
        violations: twice.map(
          ([id, charges]) => `${id}: ${charges.length} charges (${charges.map((c) => c.status).join(', ')})`,
        ),
      };
    },
  },
  {
    name: 'no purchase failed SOLD_OUT while a seat was on sale (for 2 s before it ended)',
    check: soldOutTruthfully,
  },
  {
    // Unsold seats are fine only when nobody was turned away for want of one, nor left waiting for one.
    name: 'the drop sold every seat it could',
    check: ({ truth, capacity, soldSeats }) => {
      const turnedAway = truth.purchases.filter((p) => p.status.failure?.code === 'SOLD_OUT').length;
      const q = truth.queue?.view;
      const waiting = q && !q.closed ? Math.max(0, q.joined - q.admittedThrough) : 0;
      const unsold = capacity - soldSeats.length;
      const violations: string[] = [];
      if (unsold > 0 && turnedAway > 0)
        violations.push(`${unsold} seats unsold while ${turnedAway} purchases failed SOLD_OUT`);
      if (unsold > 0 && waiting > 0)
        violations.push(`${unsold} seats unsold while ${waiting} fans still wait`);
      return { counts: { unsold, turnedAway, waiting }, violations };
    },
  },
  {
    name: 'no hold outlived its TTL by more than 5 s (or its purchase)',
    check: ({ truth, running }) => {
      const stranded = truth.seats.filter(
        (s) =>
          s.status === 'held' &&
          ((s.holdExpiresAt ?? 0) + HOLD_GRACE_MS < truth.readAt ||
            !s.hold ||
            !running.has(s.hold.purchaseId)),
      );
      return {
        counts: { held: truth.seats.filter((s) => s.status === 'held').length, stranded: stranded.length },
        violations: stranded.map(
          (s) =>
            `${s.seatId}: held by ${s.hold?.purchaseId ?? '?'} until ${new Date(s.holdExpiresAt ?? 0).toISOString()}`,
        ),
      };
    },
    figure: ['strandedHolds', 'stranded'],
  },
  {
    // No purchase still running; the queue has nobody left mid-way.
    name: 'every fan that joined reached a final state',
    check: ({ truth, running }) => {
      const violations = [...running].map((id) => `${id} is still running`);
      const q = truth.queue?.view;
      if (q) {
        if (q.purchasing > 0) violations.push(`${q.purchasing} purchases still hold a queue slot`);
        if (!q.closed && q.admittedThrough < q.joined) {
          violations.push(`${q.joined - q.admittedThrough} fans still wait while seats remain`);
        }
      }
      return {
        counts: { joined: q?.joined ?? 0, admitted: q?.admittedThrough ?? 0, runningPurchases: running.size },
        violations,
      };
    },
  },
  {
    name: 'admission order never inverted position order',
    check: admittedInOrder,
    figure: ['admissionInversions', 'inversions'],
  },
  {
    name: 'the cache agrees with the entities',
    check: cacheAgrees,
    figure: ['cacheMismatches', 'mismatches'],
  },
];

function soldOnce({ truth, signingSecret, completed, soldSeats, validTickets }: Facts) {
  const bySeat = group(completed, (p) => p.status.seatId ?? '?');
  const ticketsBySeat = group(validTickets, (t) => t.seatId);
  const violations: string[] = [];
  let doubleSold = 0;
  for (const seat of soldSeats) {
    const buyers = bySeat.get(seat.seatId) ?? [];
    const tickets = ticketsBySeat.get(seat.seatId) ?? [];
    if (buyers.length > 1 || tickets.length > 1) {
      doubleSold++;
      violations.push(
        `${seat.seatId}: ${buyers.length} completed purchases, ${tickets.length} valid tickets`,
      );
      continue;
    }
    const [buyer] = buyers;
    if (!buyer) {
      violations.push(`${seat.seatId}: sold, but no completed purchase`);
      continue;
    }
    const ticket = buyer.status.ticket;
    if (!ticket || ticket.ticketId !== seat.sale?.ticketId) {
      violations.push(`${seat.seatId}: the seat records another ticket than ${buyer.status.purchaseId}'s`);
    } else if (!qrVerifies(ticket.qr, signingSecret, truth.eventId, seat.seatId, ticket.ticketId)) {
      violations.push(`${seat.seatId}: the ticket QR of ${buyer.status.purchaseId} does not verify`);
    }
  }
  for (const [seatId, tickets] of ticketsBySeat) {
    if (soldSeats.some((s) => s.seatId === seatId)) continue;
    if (tickets.length > 1) doubleSold++;
    violations.push(`${seatId}: ${tickets.length} valid ticket(s) for a seat that is not sold`);
  }
  const unsoldButCompleted = completed.filter(
    (p) => !soldSeats.some((s) => s.seatId === p.status.seatId && s.sale?.purchaseId === p.status.purchaseId),
  );
  for (const p of unsoldButCompleted)
    violations.push(`${p.status.purchaseId} completed, but its seat is not sold to it`);
  return { counts: { soldSeats: soldSeats.length, doubleSold }, violations };
}

function chargesEndWell({ truth, soldSeats, validTickets }: Facts) {
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
  return {
    counts: {
      captured: truth.charges.filter((c) => c.status === 'captured').length,
      refunded: truth.charges.filter((c) => c.status === 'refunded').length,
      chargedWithoutTicket: chargedWithoutTicket.length,
    },
    violations: chargedWithoutTicket.map(
      (c) => `${c.chargeId} (${c.purchaseId}): captured, no ticket, no refund`,
    ),
  };
}

function admittedInOrder({ truth }: Facts) {
  const violations: string[] = [];
  const queue = truth.queue;
  if (queue) {
    // When the entity dropped its oldest entries, the check starts at the first one it kept.
    let through = queue.logDropped > 0 && queue.log.length > 0 ? queue.log[0][0] - 1 : 0;
    let lastAt = 0;
    for (const [from, to, at] of queue.log) {
      if (from !== through + 1 || to < from) violations.push(`admitted ${from}-${to} after ${through}`);
      if (at < lastAt) violations.push(`admission of ${from}-${to} is dated before the one before it`);
      through = Math.max(through, to);
      lastAt = Math.max(lastAt, at);
    }
    const admittedAt = (position: number) =>
      queue.log.find(([from, to]) => position >= from && position <= to)?.[2];
    for (const p of truth.purchases) {
      const position = p.status.position;
      if (position === undefined) {
        violations.push(`${p.status.purchaseId} bought without an admission`);
        continue;
      }
      const at = admittedAt(position);
      if (at === undefined)
        violations.push(`${p.status.purchaseId} used position ${position}, never admitted`);
      else if (p.startedAt + 1_000 < at)
        violations.push(`${p.status.purchaseId} started before position ${position} was admitted`);
    }
  }
  return { counts: { admissions: queue?.log.length ?? 0, inversions: violations.length }, violations };
}

function cacheAgrees({ truth }: Facts) {
  const violations: string[] = [];
  const { cache } = truth;
  if (cache) {
    for (const seat of truth.seats) {
      const cached = cache.seats.get(seat.seatId);
      if (!cached || cached.status !== seat.status || cached.version !== seat.version) {
        violations.push(
          `${seat.seatId}: cache ${cached ? `${cached.status} v${cached.version}` : 'missing'}, entity ${seat.status} v${seat.version}`,
        );
      }
    }
    for (const status of ['available', 'held', 'sold'] as const) {
      const actual = truth.seats.filter((s) => s.status === status).length;
      if ((cache.counts[status] ?? 0) !== actual) {
        violations.push(`count ${status}: cache ${cache.counts[status] ?? 0}, entities ${actual}`);
      }
    }
    const q = truth.queue?.view;
    if (q && cache.queueVersion !== q.version) {
      violations.push(`queue view: cache v${cache.queueVersion ?? 'missing'}, entity v${q.version}`);
    }
    for (const p of truth.purchases) {
      const cached = cache.purchases.get(p.status.purchaseId);
      if (cached?.state !== p.status.state) {
        violations.push(
          `${p.status.purchaseId}: cache ${cached?.state ?? 'missing'}, workflow ${p.status.state}`,
        );
      }
    }
  }
  return {
    counts: {
      compared: cache ? truth.seats.length + truth.purchases.length : 0,
      mismatches: violations.length,
    },
    violations,
  };
}

function qrVerifies(qr: string, secret: string, eventId: string, seatId: string, ticketId: string): boolean {
  const claims = verifyToken<{ t: string; e: string; s: string }>(secret, QR_PURPOSE, qr);
  return claims?.t === ticketId && claims.e === eventId && claims.s === seatId;
}

/**
 * A purchase that failed SOLD_OUT while some seat had been available for SOLD_OUT_LAG_MS before it ended,
 * by the seat's own record of its status changes (a seat that kept too few to tell is left out).
 */
function soldOutTruthfully({ truth }: Facts) {
  const violations: string[] = [];
  let checked = 0;
  const soldOut = truth.purchases.filter((p) => p.status.failure?.code === 'SOLD_OUT' && p.closedAt);
  for (const purchase of soldOut) {
    checked++;
    // The moment it found no seat (purchases closed before the failure carried it: their close).
    const at = purchase.status.failure?.at ?? purchase.closedAt!;
    const onSale = truth.seats.find((seat) => availableThroughout(seat, at - SOLD_OUT_LAG_MS, at));
    if (onSale) {
      violations.push(
        `${purchase.status.purchaseId} failed SOLD_OUT at ${new Date(at).toISOString()} while ${onSale.seatId} was available`,
      );
    }
  }
  return { counts: { soldOutPurchases: checked, falseSoldOut: violations.length }, violations };
}

/** Whether the seat's own record shows it available over the whole of [from, to]. */
function availableThroughout(seat: Truth['seats'][number], from: number, to: number): boolean {
  const transitions = seat.transitions;
  if (!transitions) return false; // a seat of a run that kept no record
  const before = transitions.filter(([at]) => at <= from).at(-1);
  // No change before `from`: available since it was created, unless it dropped its oldest changes.
  if (!before && seat.transitionsDropped) return false;
  const statusAtFrom = before?.[1] ?? 'available';
  if (statusAtFrom !== 'available') return false;
  return !transitions.some(([at, status]) => at > from && at <= to && status !== 'available');
}

function group<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}
