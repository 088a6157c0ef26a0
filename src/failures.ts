/**
 * The one failure vocabulary of TicketDrop. Each code is used unchanged as the `ApplicationFailure`
 * type inside workflows, as the problem+json `code` of the HTTP API, and as the grouping key of the
 * debugging views. Pure data: safe to import from workflow code.
 */
export const FailureCode = {
  VALIDATION: 'VALIDATION',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  EVENT_EXISTS: 'EVENT_EXISTS',
  EVENT_CLOSED: 'EVENT_CLOSED',
  SEAT_TAKEN: 'SEAT_TAKEN',
  SEAT_SOLD: 'SEAT_SOLD',
  NOT_HOLDER: 'NOT_HOLDER',
  HOLD_EXPIRED: 'HOLD_EXPIRED',
  /** A hold that reached its seat after its sender stopped waiting for it, or after it was released. */
  HOLD_LATE: 'HOLD_LATE',
  SOLD_OUT: 'SOLD_OUT',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_TIMEOUT: 'PAYMENT_TIMEOUT',
  PROVIDER_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  CANCELLED: 'CANCELLED',
  NOT_CANCELLABLE: 'NOT_CANCELLABLE',
  TICKET_INVALID: 'TICKET_INVALID',
  TICKET_USED: 'TICKET_USED',
  NOT_ADMITTED: 'NOT_ADMITTED',
  ADMISSION_EXPIRED: 'ADMISSION_EXPIRED',
  ADMISSION_USED: 'ADMISSION_USED',
  NO_WAITING_ROOM: 'NO_WAITING_ROOM',
  RATE_LIMITED: 'RATE_LIMITED',
  OVERLOADED: 'OVERLOADED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type FailureCode = (typeof FailureCode)[keyof typeof FailureCode];

const codes = new Set<string>(Object.values(FailureCode));

export function isFailureCode(value: unknown): value is FailureCode {
  return typeof value === 'string' && codes.has(value);
}

/** A rejected command, as pure state logic reports it (workflows turn it into an ApplicationFailure). */
export interface Failure {
  code: FailureCode;
  message: string;
  /** What a caller needs beyond the code, carried as the failure's details (TICKET_USED: `usedAt`). */
  details?: Record<string, unknown>;
}
