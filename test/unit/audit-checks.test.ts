/** The audit's chaos invariants over planted facts: each one finds what it names, and only that. */
import type { SeatAudit } from '../../src/entities/seat/contract';
import type { ChargeRecord } from '../../src/providers/store';
import type { AuditedPurchase, Truth } from '../../tools/audit/auditor';
import { CHECKS, deriveFacts } from '../../tools/audit/checks';

const T = 1_800_000_000_000;
const seat = (seatId: string, fields: Partial<SeatAudit> = {}): SeatAudit => ({
  seatId,
  status: 'available',
  version: 0,
  transitions: [],
  ...fields,
});
const soldOut = (fanId: string, closedAt: number): AuditedPurchase => ({
  status: {
    purchaseId: `p-${fanId}`,
    eventId: 'ev',
    fanId,
    state: 'failed',
    version: 3,
    failure: { code: 'SOLD_OUT', message: 'no seat free' },
  },
  startedAt: closedAt - 500,
  closedAt,
});
const charge = (purchaseId: string, status: ChargeRecord['status']): ChargeRecord => ({
  idempotencyKey: `k-${purchaseId}-${status}`,
  chargeId: `ch-${purchaseId}-${status}`,
  purchaseId,
  eventId: 'ev',
  fanId: 'f',
  amountCents: 100,
  status,
  createdAt: T,
  refundedAt: null,
});

function run(name: string, truth: Partial<Truth>) {
  const full: Truth = {
    eventId: 'ev',
    readAt: T + 60_000,
    definition: { eventId: 'ev', name: 'ev', rows: 1, seatsPerRow: 2, priceCents: 100, admission: 'direct' },
    seats: [],
    purchases: [],
    charges: [],
    tickets: [],
    ...truth,
  } as Truth;
  const check = CHECKS.find((c) => c.name.startsWith(name));
  if (!check) throw new Error(`no check ${name}`);
  return check.check(deriveFacts(full, 'secret'));
}

describe('the chaos invariants', () => {
  it('finds a SOLD_OUT told while a seat had been on sale for 2 s, not one told while it was held', () => {
    const seats = [
      // Held until T, free from then on: on sale for the whole of [T + 1 s, T + 3 s].
      seat('A1', {
        transitions: [
          [T - 5_000, 'held'],
          [T, 'available'],
        ],
      }),
      seat('A2', {
        status: 'sold',
        transitions: [
          [T - 5_000, 'held'],
          [T - 4_000, 'sold'],
        ],
      }),
    ];
    const found = run('no purchase failed SOLD_OUT', {
      seats,
      purchases: [soldOut('early', T + 1_000), soldOut('late', T + 3_000)],
    });
    expect(found.counts).toEqual({ soldOutPurchases: 2, falseSoldOut: 1 });
    expect(found.violations[0]).toMatch(/^p-late failed SOLD_OUT .* while A1 was available$/);
    // A seat whose oldest changes were dropped cannot tell what it was before its first kept one.
    const unsure = run('no purchase failed SOLD_OUT', {
      seats: [seat('A1', { transitions: [[T + 10_000, 'held']], transitionsDropped: true })],
      purchases: [soldOut('late', T + 3_000)],
    });
    expect(unsure.violations).toEqual([]);
    // Judged at the moment the purchase found no seat, not at its close after the compensations.
    const looked = soldOut('looked', T + 3_000);
    looked.status.failure!.at = T + 1_000;
    expect(run('no purchase failed SOLD_OUT', { seats, purchases: [looked] }).violations).toEqual([]);
  });

  it('finds a purchase charged twice, not a charge refunded or declined once', () => {
    const found = run('every fan charged at most once', {
      charges: [
        charge('p1', 'captured'),
        charge('p2', 'refunded'),
        charge('p2', 'declined'),
        charge('p3', 'captured'),
        charge('p3', 'refunded'),
      ],
    });
    expect(found.counts).toEqual({ purchasesCharged: 3, chargedTwice: 1 });
    expect(found.violations).toEqual(['p3: 2 charges (captured, refunded)']);
  });

  it('finds seats left unsold while fans were turned away SOLD_OUT', () => {
    const sold = seat('A2', { status: 'sold', transitions: [[T, 'sold']] });
    expect(
      run('the drop sold every seat it could', { seats: [seat('A1'), sold], purchases: [soldOut('f', T)] })
        .violations,
    ).toEqual(['1 seats unsold while 1 purchases failed SOLD_OUT']);
    expect(run('the drop sold every seat it could', { seats: [seat('A1'), sold] }).violations).toEqual([]);
    // Fans still in the waiting room while a seat is unsold: the sale stopped short (a 50,000-fan drop
    // whose fans gave up at its deadline passed the SOLD_OUT count alone).
    const queue = { view: { joined: 50, admittedThrough: 20, closed: undefined }, log: [], logDropped: 0 };
    expect(
      run('the drop sold every seat it could', {
        seats: [seat('A1'), sold],
        queue,
      } as unknown as Partial<Truth>).violations,
    ).toEqual(['1 seats unsold while 30 fans still wait']);
  });
});
