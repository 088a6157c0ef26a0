/**
 * The seat entity's contract: the only part of `entities/seat` that other domains import.
 * One long-lived workflow per seat serializes every claim on it through validated Updates.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SEAT_WORKFLOW_TYPE = 'seatEntity';

export type SeatStatus = 'available' | 'held' | 'sold';
export const SEAT_STATUSES: readonly SeatStatus[] = ['available', 'held', 'sold'];

export const seatWorkflowId = (eventId: string, seatId: string): string => `seat-${eventId}-${seatId}`;

/** Rows run A…Z, then AA, AB, … (1-based index). */
export function rowLabel(index: number): string {
  let n = index;
  let label = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    label = String.fromCharCode(65 + rem) + label;
    n = Math.floor((n - 1) / 26);
  }
  return label;
}

export function seatIds(rows: number, seatsPerRow: number): string[] {
  const ids: string[] = [];
  for (let r = 1; r <= rows; r++) {
    const row = rowLabel(r);
    for (let s = 1; s <= seatsPerRow; s++) ids.push(`${row}${s}`);
  }
  return ids;
}

export const SEAT_ID_PATTERN = '^[A-Z]{1,3}[1-9][0-9]{0,3}$';

/** Whether a seat id names a seat of an event with this many rows and seats per row. */
export function seatExists(seatId: string, rows: number, seatsPerRow: number): boolean {
  const match = /^([A-Z]{1,3})([1-9][0-9]{0,3})$/.exec(seatId);
  if (!match) return false;
  let rowIndex = 0;
  for (const ch of match[1]) rowIndex = rowIndex * 26 + (ch.charCodeAt(0) - 64);
  const number = Number(match[2]);
  return rowIndex >= 1 && rowIndex <= rows && number >= 1 && number <= seatsPerRow;
}

/** What anyone may see of a seat: never who holds or bought it. */
export interface SeatView {
  seatId: string;
  status: SeatStatus;
  /** Monotonic: bumped on every transition; the read-side cache keeps only the newest. */
  version: number;
  /** Epoch milliseconds, while held. */
  holdExpiresAt?: number;
}

/**
 * Set by a caller that writes the seat's answer to the read-side cache itself (the cache keeps the
 * newest version, whoever writes it). The entity then answers at once instead of after its own
 * projection: a local activity holds the workflow task, and with it the answer, until it is done.
 */
export interface CallerProjects {
  callerProjects?: boolean;
}
export interface HoldSeatInput extends CallerProjects {
  holdId: string;
  purchaseId: string;
  ttlMs: number;
  /**
   * Epoch ms until which the sender waits for the answer. A hold that reaches the seat later is refused
   * HOLD_LATE: its sender may have moved on, and nobody would release it (older senders: no deadline).
   */
  deadline?: number;
  /** Epoch ms the sender sent it: a tombstone sent before it is not for this send (older senders: none). */
  sentAt?: number;
  /**
   * Which attempt at the purchase's step sent it (its workflow task): a tombstone its sender scoped to
   * itself (see ReleaseSeatInput.sender) is not for another attempt's send (older senders: none).
   */
  sender?: string;
}
export interface ConfirmSeatInput extends CallerProjects {
  holdId: string;
  ticketId: string;
}
export interface ReleaseSeatInput extends CallerProjects {
  holdId: string;
  /**
   * The sender does not know whether its hold reached the seat (an answer lost, a send that may still
   * be on its way): release it if it is there, and refuse it should it arrive later. Accepted also when
   * the seat does not hold it.
   */
  tombstone?: boolean;
  /**
   * A tombstone's send time (epoch ms). It stands for the sends of the hold made before it: a hold the seat
   * has from a later send stays (a retried workflow task holds again under the same hold id while its
   * lost predecessor's tombstone is still on its way), and a later send is not refused. Without it (older
   * senders) a tombstone releases whatever the seat holds under that id and refuses every later send.
   */
  sentAt?: number;
  /**
   * A timed tombstone that stands only for its own sender's sends (HoldSeatInput.sender): a lost workflow
   * task, whose local activities still run, gives up on its own hold, and must not release or refuse the
   * hold its retry sent under the same hold id meanwhile. Without it, a tombstone is for every sender.
   */
  sender?: string;
}

/**
 * The seat's view a refused hold carries as its failure's details (SEAT_TAKEN: sold, or held by another
 * purchase), if it carries one (seats before the rule sent none).
 */
export function refusingSeat(details: readonly unknown[] | null | undefined): SeatView | undefined {
  const seat = (details?.[0] as { seat?: SeatView } | null | undefined)?.seat;
  return seat && typeof seat.seatId === 'string' && typeof seat.status === 'string' ? seat : undefined;
}

/** The Update id of a tombstone: its own per send, so a later release of the same hold is not taken for it. */
export const tombstoneUpdateId = (holdId: string, sentAt: number): string => `tombstone:${holdId}:${sentAt}`;

/** A gate scanned the ticket: the first scan of a ticket admits its holder, later ones are refused. */
export interface RedeemTicketInput {
  ticketId: string;
  /** The scan's own id: the same scan sent again (a lost answer) gets its first answer. */
  scanId: string;
}
/** When the ticket was first used (epoch milliseconds). */
export interface TicketUse {
  ticketId: string;
  usedAt: number;
}

export const MIN_HOLD_TTL_MS = 100;
export const MAX_HOLD_TTL_MS = 60 * 60 * 1000;

export const holdSeatUpdate = defineUpdate<SeatView, [HoldSeatInput]>('holdSeat');
export const confirmSeatUpdate = defineUpdate<SeatView, [ConfirmSeatInput]>('confirmSeat');
export const releaseSeatUpdate = defineUpdate<SeatView, [ReleaseSeatInput]>('releaseSeat');
export const redeemTicketUpdate = defineUpdate<TicketUse, [RedeemTicketInput]>('redeemTicket');
export const seatStateQuery = defineQuery<SeatView>('seatState');
/**
 * The ticket a sold seat was sold under, and when it was used: for ticket verification only, never shown
 * to the public.
 */
export const seatTicketQuery = defineQuery<{ ticketId?: string; usedAt?: number }>('seatTicket');
/** The seat with its holder and buyer, for the auditor and operators (never served over HTTP). */
export const seatAuditQuery = defineQuery<SeatAudit>('seatAudit');
/** The event is closed: the entity finishes once in-flight handlers are done. */
export const closeSeatSignal = defineSignal('closeSeat');
/** Operator tool: continue-as-new now (history compaction; also how tests force a new run). */
export const rolloverSeatSignal = defineSignal('rolloverSeat');

export const EVENT_ID_SEARCH_ATTRIBUTE = defineSearchAttributeKey('EventId', SearchAttributeType.KEYWORD);
export const SEAT_STATUS_SEARCH_ATTRIBUTE = defineSearchAttributeKey(
  'SeatStatus',
  SearchAttributeType.KEYWORD,
);
/** Registered on the dev server at start (`--search-attribute`), and on a cluster by the operator. */
export const SEARCH_ATTRIBUTES = { EventId: 'Keyword', SeatStatus: 'Keyword' } as const;

export interface SeatHold {
  holdId: string;
  purchaseId: string;
  expiresAt: number;
  /** When its sender sent it (holds from older senders: unknown). */
  sentAt?: number;
  /** Which attempt sent it (HoldSeatInput.sender). */
  sender?: string;
}

/** A tombstone the seat keeps: the sends of this hold made up to `sentAt` are refused. */
export interface SeatTombstone {
  holdId: string;
  sentAt: number;
  /** Only that sender's sends (ReleaseSeatInput.sender). */
  sender?: string;
}

export interface SeatSale {
  holdId: string;
  purchaseId: string;
  ticketId: string;
  /** When a gate first scanned the ticket (epoch milliseconds). */
  usedAt?: number;
}

export interface SeatAudit extends SeatView {
  hold?: SeatHold;
  sale?: SeatSale;
  /**
   * The seat's status changes, oldest first: [epoch ms, status it took]. Only the newest
   * RECENT_TRANSITIONS are kept; `transitionsDropped` says whether older ones were (the seat was
   * available before the first one otherwise).
   */
  transitions?: SeatTransition[];
  transitionsDropped?: boolean;
}

/** [epoch ms, the status the seat took then]. */
export type SeatTransition = [number, SeatStatus];

/** A remembered outcome, so a repeated command returns its first result (across runs too). */
export interface SeatOutcome {
  key: string;
  result: SeatView;
}

/** The entity's whole state: the workflow input of a fresh seat (without it) or of a continued run. */
export interface SeatSnapshot {
  status: SeatStatus;
  version: number;
  hold?: SeatHold;
  sale?: SeatSale;
  recent: SeatOutcome[];
  closed: boolean;
  /** Timed tombstones, newest last (as many as outcomes are remembered); absent in older runs. */
  tombstones?: SeatTombstone[];
  /** Status changes, for the auditor (SeatAudit.transitions); absent in older runs. */
  transitions?: SeatTransition[];
  transitionsDropped?: boolean;
}

export interface SeatEntityInput {
  eventId: string;
  seatId: string;
  snapshot?: SeatSnapshot;
}
