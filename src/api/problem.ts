/**
 * The one Temporal→HTTP map. Every error the API answers with becomes an `HttpProblem`: a failure code
 * from the shared vocabulary, an HTTP status and a detail that is safe to show.
 */
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FailureCode, isFailureCode } from '../failures';

const STATUS: Record<FailureCode, number> = {
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_ADMITTED: 403,
  ADMISSION_EXPIRED: 403,
  ADMISSION_USED: 409,
  NO_WAITING_ROOM: 409,
  NOT_FOUND: 404,
  EVENT_EXISTS: 409,
  EVENT_CLOSED: 409,
  SEAT_TAKEN: 409,
  SEAT_SOLD: 409,
  NOT_HOLDER: 409,
  HOLD_EXPIRED: 409,
  HOLD_LATE: 409,
  SOLD_OUT: 409,
  PAYMENT_DECLINED: 402,
  PAYMENT_TIMEOUT: 504,
  PROVIDER_UNAVAILABLE: 503,
  CANCELLED: 409,
  NOT_CANCELLABLE: 409,
  TICKET_INVALID: 422,
  TICKET_USED: 409,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  OVERLOADED: 503,
  UNAVAILABLE: 503,
};

const TITLE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** What some problems add: `usedAt` on TICKET_USED (when the ticket was first used). */
export interface ProblemExtra {
  usedAt?: string;
}

export class HttpProblem extends Error {
  readonly status: number;
  readonly retryAfterSeconds?: number;
  /** Fields a problem of this code adds to the body (each in the Problem schema). */
  readonly extra?: ProblemExtra;

  constructor(
    readonly code: FailureCode,
    readonly detail: string,
    options: { status?: number; retryAfterSeconds?: number; extra?: ProblemExtra } = {},
  ) {
    super(detail);
    this.extra = options.extra;
    this.status = options.status ?? STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds ?? (this.status === 503 ? 1 : undefined);
  }

  get title(): string {
    return TITLE[this.status] ?? 'Error';
  }

  body(): { type: string; title: string; status: number; detail: string; code: string } & ProblemExtra {
    return {
      ...this.extra,
      type: `https://ticketdrop.dev/problems/${this.code.toLowerCase().replace(/_/g, '-')}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
      code: this.code,
    };
  }
}

/** Maps what the Temporal client throws to a problem; `undefined` when it is not a Temporal error. */
export function problemFromTemporal(err: unknown): HttpProblem | undefined {
  if (err instanceof WorkflowNotFoundError) return new HttpProblem(FailureCode.NOT_FOUND, 'no such resource');
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new HttpProblem(FailureCode.EVENT_EXISTS, 'it already exists');
  }
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const { type, message } = err.cause;
    if (isFailureCode(type)) return new HttpProblem(type, message);
  }
  if (err instanceof ServiceError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new HttpProblem(FailureCode.UNAVAILABLE, 'the workflow service is unavailable; retry shortly');
  }
  return undefined;
}
