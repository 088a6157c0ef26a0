import { RECENT_OUTCOMES, RECENT_TRANSITIONS, SeatState } from '../../src/entities/seat/state';
import { refusingSeat, rowLabel, seatExists, seatIds } from '../../src/entities/seat/contract';

const T0 = 1_700_000_000_000;
const hold = (holdId: string, ttlMs = 1_000) => ({ holdId, purchaseId: `p-${holdId}`, ttlMs });

describe('seat state machine', () => {
  it('holds an available seat, then confirms it as sold', () => {
    const seat = new SeatState('A1');
    expect(seat.checkHold(hold('h1'), T0)).toBeUndefined();
    expect(seat.hold(hold('h1'), T0)).toEqual({
      seatId: 'A1',
      status: 'held',
      version: 1,
      holdExpiresAt: T0 + 1_000,
    });
    expect(seat.checkConfirm({ holdId: 'h1', ticketId: 't1' }, T0 + 10)).toBeUndefined();
    expect(seat.confirm({ holdId: 'h1', ticketId: 't1' }, T0)).toEqual({
      seatId: 'A1',
      status: 'sold',
      version: 2,
    });
    expect(seat.sale).toEqual({ holdId: 'h1', purchaseId: 'p-h1', ticketId: 't1' });
  });

  it('rejects a second claim while held or sold with SEAT_TAKEN, telling which with its view', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    const held = seat.checkHold(hold('h2'), T0 + 1);
    expect(held?.code).toBe('SEAT_TAKEN');
    expect(refusingSeat([held?.details])).toEqual({
      seatId: 'A1',
      status: 'held',
      version: 1,
      holdExpiresAt: T0 + 1_000,
    });
    seat.confirm({ holdId: 'h1', ticketId: 't1' }, T0);
    const sold = seat.checkHold(hold('h2'), T0 + 5_000);
    expect(sold?.code).toBe('SEAT_TAKEN');
    expect(refusingSeat([sold?.details])).toEqual({ seatId: 'A1', status: 'sold', version: 2 });
    expect(refusingSeat(undefined)).toBeUndefined();
    expect(refusingSeat([{ usedAt: 1 }])).toBeUndefined();
  });

  it('treats a lapsed hold as free even before the timer ends it', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    expect(seat.checkHold(hold('h2'), T0 + 1_000)).toBeUndefined();
    expect(seat.hold(hold('h2'), T0 + 1_000)).toMatchObject({ status: 'held', version: 3 });
    expect(seat.checkConfirm({ holdId: 'h1', ticketId: 't' }, T0 + 1_001)?.code).toBe('HOLD_EXPIRED');
  });

  it('expires a hold at its expiry time, and a late confirm fails with HOLD_EXPIRED', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    expect(seat.expireIfDue(T0 + 999)).toBe(false);
    expect(seat.expireIfDue(T0 + 1_000)).toBe(true);
    expect(seat.view()).toEqual({ seatId: 'A1', status: 'available', version: 2 });
    expect(seat.checkConfirm({ holdId: 'h1', ticketId: 't' }, T0 + 2_000)?.code).toBe('HOLD_EXPIRED');
  });

  it('rejects confirm and release by a non-holder with NOT_HOLDER, changing nothing', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    expect(seat.checkConfirm({ holdId: 'other', ticketId: 't' }, T0)?.code).toBe('NOT_HOLDER');
    expect(seat.checkRelease({ holdId: 'other' })?.code).toBe('NOT_HOLDER');
    expect(seat.view().version).toBe(1);
  });

  it('refuses a hold that arrives after its sender stopped waiting, with HOLD_LATE', () => {
    const seat = new SeatState('A1');
    expect(seat.checkHold({ ...hold('h1'), deadline: T0 - 1 }, T0)?.code).toBe('HOLD_LATE');
    expect(seat.checkHold({ ...hold('h1'), deadline: T0 }, T0)).toBeUndefined();
    expect(seat.view().version).toBe(0);
  });

  it('keeps a tombstone for a hold it never had, and refuses that hold should it arrive', () => {
    const seat = new SeatState('A1');
    expect(seat.checkRelease({ holdId: 'h1' })?.code).toBe('NOT_HOLDER');
    expect(seat.checkRelease({ holdId: 'h1', tombstone: true })).toBeUndefined();
    expect(seat.release({ holdId: 'h1', tombstone: true }, T0)).toEqual({
      seatId: 'A1',
      status: 'available',
      version: 0,
    });
    expect(seat.checkHold(hold('h1'), T0)?.code).toBe('HOLD_LATE');
    // Another purchase's hold is untouched by it, and a tombstone never releases someone else's hold.
    expect(seat.checkHold(hold('h2'), T0)).toBeUndefined();
    seat.hold(hold('h2'), T0);
    seat.release({ holdId: 'h3', tombstone: true }, T0);
    expect(seat.view()).toMatchObject({ status: 'held', version: 1 });
  });

  it('releases a hold it has when asked by tombstone, and still refuses to release a sale', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    expect(seat.release({ holdId: 'h1', tombstone: true }, T0)).toMatchObject({
      status: 'available',
      version: 2,
    });
    expect(seat.checkHold(hold('h1'), T0 + 1)?.code).toBe('HOLD_LATE');
    seat.hold(hold('h2'), T0 + 1);
    seat.confirm({ holdId: 'h2', ticketId: 't2' }, T0);
    expect(seat.checkRelease({ holdId: 'h2', tombstone: true })?.code).toBe('SEAT_SOLD');
  });

  it('leaves a hold sent after a timed tombstone, and releases one sent before it', () => {
    // A lost workflow task's tombstone reaches the seat after its retried task held the seat again under
    // the same hold id: that later send stays, and the purchase can confirm it.
    const seat = new SeatState('A1');
    seat.hold({ ...hold('h1'), sentAt: T0 + 20 }, T0 + 20);
    const stale = { holdId: 'h1', tombstone: true, sentAt: T0 + 10 };
    expect(seat.checkRelease(stale)).toBeUndefined();
    expect(seat.release(stale, T0)).toMatchObject({ status: 'held', version: 1 });
    expect(seat.checkConfirm({ holdId: 'h1', ticketId: 't1' }, T0 + 30)).toBeUndefined();
    // A send from before that tombstone, still on its way, is refused when it comes.
    const other = new SeatState('A2');
    other.release(stale, T0);
    expect(other.checkHold({ ...hold('h1'), sentAt: T0 + 5 }, T0 + 40)?.code).toBe('HOLD_LATE');
    expect(other.checkHold({ ...hold('h1'), sentAt: T0 + 15 }, T0 + 40)).toBeUndefined();
    // A tombstone sent after the seat's hold releases it, and a later release of that hold is its own.
    const third = new SeatState('A3');
    third.hold({ ...hold('h1'), sentAt: T0 }, T0);
    expect(third.release({ holdId: 'h1', tombstone: true, sentAt: T0 + 1 }, T0)).toMatchObject({
      status: 'available',
      version: 2,
    });
    expect(third.checkHold({ ...hold('h1'), sentAt: T0 }, T0 + 2)?.code).toBe('HOLD_LATE');
    third.hold({ ...hold('h2'), sentAt: T0 + 3 }, T0 + 3);
    expect(third.checkRelease({ holdId: 'h2' })).toBeUndefined();
    expect(third.release({ holdId: 'h2' }, T0)).toMatchObject({ status: 'available', version: 4 });
  });

  it("a tombstone scoped to its sender leaves another sender's hold of the same id, sent before it", () => {
    // A lost workflow task's local activity, still running, gives up on its own hold after its retry held
    // the seat under the same hold id (from a chaos drop: a fan charged, then refunded NOT_HOLDER).
    const seat = new SeatState('A1');
    seat.hold({ ...hold('h1'), sentAt: T0, sender: 'task@9' }, T0 + 5);
    const lost = { holdId: 'h1', tombstone: true, sentAt: T0 + 2, sender: 'task@3' };
    expect(seat.release(lost, T0 + 6)).toMatchObject({ status: 'held', version: 1 });
    expect(seat.checkConfirm({ holdId: 'h1', ticketId: 't1' }, T0 + 7)).toBeUndefined();
    // Its own sends are released and refused; another sender's later send is not refused.
    const other = new SeatState('A2');
    other.hold({ ...hold('h1'), sentAt: T0 + 1, sender: 'task@3' }, T0 + 1);
    expect(other.release(lost, T0 + 6)).toMatchObject({ status: 'available', version: 2 });
    expect(other.checkHold({ ...hold('h1'), sentAt: T0 + 1, sender: 'task@3' }, T0 + 7)?.code).toBe(
      'HOLD_LATE',
    );
    expect(other.checkHold({ ...hold('h1'), sentAt: T0 + 1, sender: 'task@9' }, T0 + 7)).toBeUndefined();
    // A tombstone for every sender still stands for them all.
    other.release({ holdId: 'h1', tombstone: true, sentAt: T0 + 3 }, T0 + 8);
    expect(other.checkHold({ ...hold('h1'), sentAt: T0 + 1, sender: 'task@9' }, T0 + 9)?.code).toBe(
      'HOLD_LATE',
    );
  });

  it('takes a hold sent again once the seat lost it as a new hold (old runs: the first answer)', () => {
    const first = (rules?: { reholdGone: boolean }) => {
      const seat = new SeatState('A1', undefined, rules);
      seat.hold(hold('h1'), T0);
      seat.expireIfDue(T0 + 1_000);
      return seat;
    };
    const seat = first();
    expect(seat.checkHold(hold('h1'), T0 + 2_000)).toBeUndefined();
    expect(seat.hold(hold('h1'), T0 + 2_000)).toMatchObject({ status: 'held', version: 3 });
    expect(seat.view()).toMatchObject({ status: 'held', holdExpiresAt: T0 + 3_000 });
    // Still held: the same send again gets its first answer, nothing changes.
    expect(seat.hold(hold('h1'), T0 + 2_100)).toMatchObject({ version: 3 });
    // Sold under it: the hold is not gone, and its first answer stands.
    seat.confirm({ holdId: 'h1', ticketId: 't1' }, T0);
    expect(seat.checkHold(hold('h1'), T0 + 2_200)).toBeUndefined();
    expect(seat.hold(hold('h1'), T0 + 2_200)).toMatchObject({ status: 'held', version: 3 });
    expect(seat.view()).toMatchObject({ status: 'sold', version: 4 });
    const old = first({ reholdGone: false });
    expect(old.hold(hold('h1'), T0 + 2_000)).toMatchObject({ status: 'held', version: 1 });
    expect(old.view()).toMatchObject({ status: 'available', version: 2 });
  });

  it('refuses to release a sold seat', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    seat.confirm({ holdId: 'h1', ticketId: 't1' }, T0);
    expect(seat.checkRelease({ holdId: 'h1' })?.code).toBe('SEAT_SOLD');
  });

  it('returns the first outcome for a repeated command, also after a snapshot round trip', () => {
    const seat = new SeatState('A1');
    const first = seat.hold(hold('h1'), T0);
    const continued = new SeatState('A1', seat.snapshot());
    expect(continued.checkHold(hold('h1'), T0 + 500)).toBeUndefined();
    expect(continued.hold(hold('h1'), T0 + 500)).toEqual(first);
    const released = continued.release({ holdId: 'h1' }, T0);
    expect(continued.release({ holdId: 'h1' }, T0)).toEqual(released);
    expect(continued.version).toBe(2);
  });

  it('accepts releasing a hold that already expired (the seat is free either way)', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    seat.expireIfDue(T0 + 1_000);
    expect(seat.checkRelease({ holdId: 'h1' })).toBeUndefined();
    expect(seat.release({ holdId: 'h1' }, T0)).toEqual({ seatId: 'A1', status: 'available', version: 2 });
  });

  it('validates ttl and closed seats', () => {
    const seat = new SeatState('A1');
    expect(seat.checkHold(hold('h1', 5), T0)?.code).toBe('VALIDATION');
    seat.close();
    expect(seat.checkHold(hold('h1'), T0)?.code).toBe('EVENT_CLOSED');
  });

  it('remembers a bounded number of outcomes', () => {
    const seat = new SeatState('A1');
    for (let i = 0; i < RECENT_OUTCOMES + 20; i++) {
      seat.hold(hold(`h${i}`), T0 + i * 10);
      seat.release({ holdId: `h${i}` }, T0 + i * 10 + 5);
    }
    expect(seat.snapshot().recent).toHaveLength(RECENT_OUTCOMES);
    expect(seat.audit().transitions).toHaveLength(RECENT_TRANSITIONS);
    expect(seat.audit().transitionsDropped).toBe(true);
  });

  it('keeps when it changed status, for the auditor, through continue-as-new', () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    seat.expireIfDue(T0 + 1_000);
    seat.hold(hold('h2'), T0 + 1_500);
    seat.release({ holdId: 'h2' }, T0 + 1_600);
    seat.hold(hold('h3'), T0 + 1_700);
    seat.confirm({ holdId: 'h3', ticketId: 't3' }, T0 + 1_800);
    const continued = new SeatState('A1', seat.snapshot());
    expect(continued.audit().transitions).toEqual([
      [T0, 'held'],
      [T0 + 1_000, 'available'],
      [T0 + 1_500, 'held'],
      [T0 + 1_600, 'available'],
      [T0 + 1_700, 'held'],
      [T0 + 1_800, 'sold'],
    ]);
    expect(continued.audit().transitionsDropped).toBeUndefined();
  });
});

describe('seat ids', () => {
  it('labels rows A…Z then AA, AB', () => {
    expect([1, 20, 26, 27, 28, 52, 53].map(rowLabel)).toEqual(['A', 'T', 'Z', 'AA', 'AB', 'AZ', 'BA']);
  });

  it('lists rows × seats in order and knows which seats exist', () => {
    const ids = seatIds(20, 25);
    expect(ids).toHaveLength(500);
    expect(ids.slice(0, 2)).toEqual(['A1', 'A2']);
    expect(ids[499]).toBe('T25');
    expect(seatExists('T25', 20, 25)).toBe(true);
    expect(seatExists('U1', 20, 25)).toBe(false);
    expect(seatExists('A26', 20, 25)).toBe(false);
    expect(seatExists('AA1', 27, 1)).toBe(true);
  });
});

describe('a ticket admits one person', () => {
  const sold = () => {
    const seat = new SeatState('A1');
    seat.hold(hold('h1'), T0);
    seat.confirm({ holdId: 'h1', ticketId: 't1' }, T0);
    return seat;
  };

  it('redeems the ticket the seat was sold under once; a later scan is refused TICKET_USED', () => {
    const seat = sold();
    expect(seat.checkRedeem({ ticketId: 't1', scanId: 's1' })).toBeUndefined();
    expect(seat.redeem({ ticketId: 't1', scanId: 's1' }, T0 + 100)).toEqual({
      ticketId: 't1',
      usedAt: T0 + 100,
    });
    const again = seat.checkRedeem({ ticketId: 't1', scanId: 's2' });
    expect(again?.code).toBe('TICKET_USED');
    expect(again?.message).toContain(new Date(T0 + 100).toISOString());
    // The public view does not change: the seat stays sold, at the same version.
    expect(seat.view()).toEqual({ seatId: 'A1', status: 'sold', version: 2 });
  });

  it('answers the same scan sent again with its first answer', () => {
    const seat = sold();
    seat.redeem({ ticketId: 't1', scanId: 's1' }, T0 + 100);
    expect(seat.checkRedeem({ ticketId: 't1', scanId: 's1' })).toBeUndefined();
    expect(seat.redeem({ ticketId: 't1', scanId: 's1' }, T0 + 900)).toEqual({
      ticketId: 't1',
      usedAt: T0 + 100,
    });
  });

  it('refuses another ticket, and a seat not sold, with TICKET_INVALID', () => {
    expect(sold().checkRedeem({ ticketId: 't-other', scanId: 's1' })?.code).toBe('TICKET_INVALID');
    const held = new SeatState('A1');
    held.hold(hold('h1'), T0);
    expect(held.checkRedeem({ ticketId: 't1', scanId: 's1' })?.code).toBe('TICKET_INVALID');
    expect(new SeatState('A1').checkRedeem({ ticketId: 't1', scanId: 's1' })?.code).toBe('TICKET_INVALID');
  });

  it('keeps the use through continue-as-new (the snapshot)', () => {
    const seat = sold();
    seat.redeem({ ticketId: 't1', scanId: 's1' }, T0 + 100);
    const next = new SeatState('A1', seat.snapshot());
    expect(next.checkRedeem({ ticketId: 't1', scanId: 's9' })?.code).toBe('TICKET_USED');
  });
});
