/**
 * The seat state machine, free of Temporal: available → held → sold; held → available by release or
 * expiry. `check*` methods are pure (they back the synchronous Update validators); the mutating methods
 * assume the matching check passed. Time is always passed in, so expiry is deterministic.
 */
import { FailureCode, type Failure } from '../../failures';
import {
  MAX_HOLD_TTL_MS,
  MIN_HOLD_TTL_MS,
  type ConfirmSeatInput,
  type HoldSeatInput,
  type RedeemTicketInput,
  type ReleaseSeatInput,
  type SeatAudit,
  type SeatSnapshot,
  type SeatTombstone,
  type SeatView,
  type TicketUse,
} from './contract';

/** How many command outcomes are remembered (and carried through continue-as-new) for idempotency. */
export const RECENT_OUTCOMES = 64;
/** How many status changes the seat keeps for the auditor. */
export const RECENT_TRANSITIONS = 64;

const fail = (code: FailureCode, message: string, details?: Failure['details']): Failure => ({
  code,
  message,
  ...(details && { details }),
});

/**
 * Whether a tombstone stands for a send of its hold: one made before it (a send of unknown time: always),
 * by its sender when it is scoped to one.
 */
function covers(tombstone: SeatTombstone, send: { sentAt?: number; sender?: string }): boolean {
  if (send.sentAt !== undefined && send.sentAt > tombstone.sentAt) return false;
  return tombstone.sender === undefined || tombstone.sender === send.sender;
}

/** The outcome key of a release: a timed tombstone has its own per send (see ReleaseSeatInput.sentAt). */
const releaseKey = (cmd: ReleaseSeatInput): string =>
  cmd.tombstone && cmd.sentAt !== undefined
    ? `tombstone:${cmd.holdId}@${cmd.sentAt}`
    : `release:${cmd.holdId}`;

export class SeatState {
  private readonly s: SeatSnapshot;

  /**
   * `reholdGone`: a hold sent again once the seat no longer has it (released, expired) is a new hold, not
   * the first answer again (runs started before the rule keep answering "held": patch seat-rehold-gone).
   */
  constructor(
    readonly seatId: string,
    snapshot?: SeatSnapshot,
    private readonly rules: { reholdGone: boolean } = { reholdGone: true },
  ) {
    this.s = snapshot
      ? {
          ...snapshot,
          recent: [...snapshot.recent],
          ...(snapshot.tombstones && { tombstones: [...snapshot.tombstones] }),
          ...(snapshot.transitions && { transitions: [...snapshot.transitions] }),
        }
      : { status: 'available', version: 0, recent: [], closed: false, transitions: [] };
  }

  get version(): number {
    return this.s.version;
  }

  get closed(): boolean {
    return this.s.closed;
  }

  /** When the current hold lapses, if the seat is held. */
  get holdExpiresAt(): number | undefined {
    return this.s.status === 'held' ? this.s.hold?.expiresAt : undefined;
  }

  view(): SeatView {
    const { status, version } = this.s;
    return status === 'held'
      ? { seatId: this.seatId, status, version, holdExpiresAt: this.holdExpiresAt }
      : { seatId: this.seatId, status, version };
  }

  snapshot(): SeatSnapshot {
    return {
      ...this.s,
      recent: [...this.s.recent],
      ...(this.s.tombstones && { tombstones: [...this.s.tombstones] }),
      ...(this.s.transitions && { transitions: [...this.s.transitions] }),
    };
  }

  checkHold(cmd: HoldSeatInput, now: number): Failure | undefined {
    // Released (or tombstoned) first: a hold arriving after its release must never take the seat again.
    if (this.recall(`release:${cmd.holdId}`)) {
      return fail(
        FailureCode.HOLD_LATE,
        `hold ${cmd.holdId} on seat ${this.seatId} was released before it arrived`,
      );
    }
    if (this.tombstonesOf(cmd.holdId).some((tombstone) => covers(tombstone, cmd))) {
      return fail(
        FailureCode.HOLD_LATE,
        `hold ${cmd.holdId} on seat ${this.seatId} was sent before its sender's tombstone`,
      );
    }
    if (this.rules.reholdGone ? this.holding(cmd.holdId) : this.recall(`hold:${cmd.holdId}`))
      return undefined;
    if (!cmd.holdId || !cmd.purchaseId)
      return fail(FailureCode.VALIDATION, 'holdId and purchaseId are required');
    if (cmd.deadline !== undefined && now > cmd.deadline) {
      return fail(
        FailureCode.HOLD_LATE,
        `hold ${cmd.holdId} reached seat ${this.seatId} ${now - cmd.deadline} ms after its sender stopped waiting`,
      );
    }
    if (!Number.isInteger(cmd.ttlMs) || cmd.ttlMs < MIN_HOLD_TTL_MS || cmd.ttlMs > MAX_HOLD_TTL_MS) {
      return fail(
        FailureCode.VALIDATION,
        `ttlMs must be an integer from ${MIN_HOLD_TTL_MS} to ${MAX_HOLD_TTL_MS}`,
      );
    }
    if (this.s.closed) return fail(FailureCode.EVENT_CLOSED, `seat ${this.seatId}: the event is closed`);
    // The seat's view travels with the refusal: the sender learns whether to try it again later (held) or
    // never (sold), and puts it into the cache, whose copy was stale when it offered the seat.
    if (this.s.status === 'sold')
      return fail(FailureCode.SEAT_TAKEN, `seat ${this.seatId} is sold`, { seat: this.view() });
    if (this.s.status === 'held' && !this.holdLapsed(now)) {
      return fail(FailureCode.SEAT_TAKEN, `seat ${this.seatId} is held by another purchase`, {
        seat: this.view(),
      });
    }
    return undefined;
  }

  /** The same hold sent again while the seat has it gets the first answer; once gone, it is a new hold. */
  hold(cmd: HoldSeatInput, now: number): SeatView {
    const known = this.recall(`hold:${cmd.holdId}`);
    if (known && (this.holding(cmd.holdId) || !this.rules.reholdGone)) return known;
    this.expireIfDue(now);
    this.s.status = 'held';
    this.s.hold = { holdId: cmd.holdId, purchaseId: cmd.purchaseId, expiresAt: now + cmd.ttlMs };
    if (cmd.sentAt !== undefined) this.s.hold.sentAt = cmd.sentAt;
    if (cmd.sender !== undefined) this.s.hold.sender = cmd.sender;
    return this.commit(`hold:${cmd.holdId}`, now);
  }

  checkConfirm(cmd: ConfirmSeatInput, now: number): Failure | undefined {
    if (this.recall(`confirm:${cmd.holdId}`)) return undefined;
    if (!cmd.holdId || !cmd.ticketId) return fail(FailureCode.VALIDATION, 'holdId and ticketId are required');
    const holding = this.s.status === 'held' && this.s.hold?.holdId === cmd.holdId;
    if (holding && !this.holdLapsed(now)) return undefined;
    if (holding || this.recall(`expired:${cmd.holdId}`)) {
      return fail(
        FailureCode.HOLD_EXPIRED,
        `hold ${cmd.holdId} on seat ${this.seatId} expired before confirmation`,
      );
    }
    return fail(FailureCode.NOT_HOLDER, `hold ${cmd.holdId} does not hold seat ${this.seatId}`);
  }

  confirm(cmd: ConfirmSeatInput, now: number): SeatView {
    const known = this.recall(`confirm:${cmd.holdId}`);
    if (known) return known;
    const hold = this.s.hold!;
    this.s.status = 'sold';
    this.s.sale = { holdId: hold.holdId, purchaseId: hold.purchaseId, ticketId: cmd.ticketId };
    this.s.hold = undefined;
    return this.commit(`confirm:${cmd.holdId}`, now);
  }

  checkRelease(cmd: ReleaseSeatInput): Failure | undefined {
    const key = cmd.holdId;
    if (this.recall(releaseKey(cmd)) || this.recall(`expired:${key}`)) return undefined;
    if (this.s.status === 'held' && this.s.hold?.holdId === key) return undefined;
    if (this.s.status === 'sold' && this.s.sale?.holdId === key) {
      return fail(
        FailureCode.SEAT_SOLD,
        `seat ${this.seatId} was sold under hold ${key}; it cannot be released`,
      );
    }
    if (cmd.tombstone) return undefined;
    return fail(FailureCode.NOT_HOLDER, `hold ${key} does not hold seat ${this.seatId}`);
  }

  /**
   * Releasing a hold that already lapsed is a success: the seat is free either way. A release of a hold
   * the seat does not hold (a tombstone, or a lapsed hold) is remembered, so the hold is refused should it
   * arrive later.
   */
  release(cmd: ReleaseSeatInput, now: number): SeatView {
    const key = releaseKey(cmd);
    const known = this.recall(key);
    if (known) return known;
    const tombstone: SeatTombstone | undefined =
      cmd.tombstone && cmd.sentAt !== undefined
        ? { holdId: cmd.holdId, sentAt: cmd.sentAt, ...(cmd.sender !== undefined && { sender: cmd.sender }) }
        : undefined;
    if (tombstone) this.keepTombstone(tombstone);
    const hold = this.s.status === 'held' ? this.s.hold : undefined;
    // A timed tombstone leaves a hold sent after it (that send is not one its sender gave up on), and a
    // tombstone scoped to its sender leaves another sender's hold.
    if (hold?.holdId === cmd.holdId && (!tombstone || covers(tombstone, hold))) {
      this.s.status = 'available';
      this.s.hold = undefined;
      return this.commit(key, now);
    }
    return this.remember(key, this.view());
  }

  /**
   * A gate's scan: only the ticket the seat was sold under, and only once. The seat's public view does
   * not change (it stays sold), so no version is bumped; the use travels with the sale.
   */
  checkRedeem(cmd: RedeemTicketInput): Failure | undefined {
    if (this.recall(`redeem:${cmd.scanId}`)) return undefined;
    if (!cmd.ticketId || !cmd.scanId) return fail(FailureCode.VALIDATION, 'ticketId and scanId are required');
    const sale = this.s.status === 'sold' ? this.s.sale : undefined;
    if (!sale || sale.ticketId !== cmd.ticketId) {
      return fail(
        FailureCode.TICKET_INVALID,
        `seat ${this.seatId} was not sold under ticket ${cmd.ticketId}`,
      );
    }
    if (sale.usedAt !== undefined) {
      return fail(
        FailureCode.TICKET_USED,
        `ticket ${cmd.ticketId} was already used at ${new Date(sale.usedAt).toISOString()}`,
        { usedAt: sale.usedAt },
      );
    }
    return undefined;
  }

  redeem(cmd: RedeemTicketInput, now: number): TicketUse {
    const sale = this.s.sale!;
    if (!this.recall(`redeem:${cmd.scanId}`)) {
      sale.usedAt = now;
      this.remember(`redeem:${cmd.scanId}`, this.view());
    }
    return { ticketId: sale.ticketId, usedAt: sale.usedAt! };
  }

  /** Ends a lapsed hold. Returns whether anything changed. */
  expireIfDue(now: number): boolean {
    if (this.s.status !== 'held' || !this.holdLapsed(now)) return false;
    const holdId = this.s.hold!.holdId;
    this.s.status = 'available';
    this.s.hold = undefined;
    this.commit(`expired:${holdId}`, now);
    return true;
  }

  close(): void {
    this.s.closed = true;
  }

  /** Who bought the seat: for the owner's own checks (ticket verification), never for the public view. */
  get sale(): SeatSnapshot['sale'] {
    return this.s.sale;
  }

  /** Everything an auditor needs: the view, the current hold and the sale (operators only). */
  audit(): SeatAudit {
    const audit: SeatAudit = { ...this.view() };
    if (this.s.status === 'held' && this.s.hold) audit.hold = { ...this.s.hold };
    if (this.s.sale) audit.sale = { ...this.s.sale };
    if (this.s.transitions) audit.transitions = [...this.s.transitions];
    if (this.s.transitionsDropped) audit.transitionsDropped = true;
    return audit;
  }

  /** Whether the seat still has this hold, or was sold under it (a hold that is not gone). */
  private holding(holdId: string): boolean {
    return this.s.status === 'held' ? this.s.hold?.holdId === holdId : this.s.sale?.holdId === holdId;
  }

  private tombstonesOf(holdId: string): SeatTombstone[] {
    return (this.s.tombstones ?? []).filter((t) => t.holdId === holdId);
  }

  /** Kept unless a tombstone for as many senders, as late, is kept already. */
  private keepTombstone(tombstone: SeatTombstone): void {
    const kept = (this.s.tombstones ??= []);
    const known = this.tombstonesOf(tombstone.holdId).some(
      (t) => t.sentAt >= tombstone.sentAt && (t.sender === undefined || t.sender === tombstone.sender),
    );
    if (known) return;
    kept.push(tombstone);
    if (kept.length > RECENT_OUTCOMES) kept.splice(0, kept.length - RECENT_OUTCOMES);
  }

  private holdLapsed(now: number): boolean {
    return this.s.hold !== undefined && this.s.hold.expiresAt <= now;
  }

  private commit(key: string, now: number): SeatView {
    this.s.version += 1;
    const kept = (this.s.transitions ??= []);
    kept.push([now, this.s.status]);
    if (kept.length > RECENT_TRANSITIONS) {
      kept.splice(0, kept.length - RECENT_TRANSITIONS);
      this.s.transitionsDropped = true;
    }
    return this.remember(key, this.view());
  }

  private remember(key: string, result: SeatView): SeatView {
    this.s.recent.push({ key, result });
    if (this.s.recent.length > RECENT_OUTCOMES)
      this.s.recent.splice(0, this.s.recent.length - RECENT_OUTCOMES);
    return result;
  }

  /** The newest outcome under `key` (a hold taken again after it was gone has a newer one). */
  private recall(key: string): SeatView | undefined {
    for (let i = this.s.recent.length - 1; i >= 0; i--)
      if (this.s.recent[i].key === key) return this.s.recent[i].result;
    return undefined;
  }
}
