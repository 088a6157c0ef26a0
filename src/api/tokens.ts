/**
 * Fan tokens: signed (HMAC), bound to one purchase, its event and its fan, and expiring. A token cannot
 * be forged, and one fan's token does not open another fan's purchase.
 */
import type { FastifyRequest } from 'fastify';
import { FailureCode } from '../failures';
import { signToken, verifyToken } from '../lib/signing';
import { bearerToken } from './plugins/auth';
import { HttpProblem } from './problem';

const PURCHASE_PURPOSE = 'purchase';
const PURCHASE_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export interface PurchaseClaims {
  purchaseId: string;
  eventId: string;
  fanId: string;
}

interface PurchasePayload {
  p: string;
  e: string;
  f: string;
  exp: number;
}

export function issuePurchaseToken(secret: string, claims: PurchaseClaims, now = Date.now()): string {
  const payload: PurchasePayload = {
    p: claims.purchaseId,
    e: claims.eventId,
    f: claims.fanId,
    exp: now + PURCHASE_TOKEN_TTL_MS,
  };
  return signToken(secret, PURCHASE_PURPOSE, payload);
}

/** The claims of the request's purchase token, which must be for `purchaseId`; else 401/403. */
export function requirePurchaseToken(
  request: FastifyRequest,
  secret: string,
  purchaseId: string,
): PurchaseClaims {
  const token = bearerToken(request);
  if (!token)
    throw new HttpProblem(FailureCode.UNAUTHORIZED, 'this call needs the purchase token as a bearer token');
  const payload = verifyToken<PurchasePayload>(secret, PURCHASE_PURPOSE, token);
  if (!payload) throw new HttpProblem(FailureCode.UNAUTHORIZED, 'the purchase token is invalid or expired');
  if (payload.p !== purchaseId)
    throw new HttpProblem(FailureCode.FORBIDDEN, 'this token belongs to another purchase');
  return { purchaseId: payload.p, eventId: payload.e, fanId: payload.f };
}

const QUEUE_PURPOSE = 'queue';
const QUEUE_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
const ADMISSION_PURPOSE = 'admission';

/** A fan's place in an event's waiting room, as its queue token carries it. */
export interface QueueClaims {
  eventId: string;
  fanId: string;
  /** Position (> 0), or -(pre-queue index + 1) before the sale opened. */
  place: number;
}

interface QueuePayload {
  e: string;
  f: string;
  n: number;
  exp: number;
}

export function issueQueueToken(secret: string, claims: QueueClaims, now = Date.now()): string {
  const payload: QueuePayload = {
    e: claims.eventId,
    f: claims.fanId,
    n: claims.place,
    exp: now + QUEUE_TOKEN_TTL_MS,
  };
  return signToken(secret, QUEUE_PURPOSE, payload);
}

/** The claims of the request's queue token, which must be for `eventId`; else 401/403. */
export function requireQueueToken(request: FastifyRequest, secret: string, eventId: string): QueueClaims {
  const token = bearerToken(request);
  if (!token)
    throw new HttpProblem(
      FailureCode.UNAUTHORIZED,
      'this call needs the queue token from joining as a bearer token',
    );
  const payload = verifyToken<QueuePayload>(secret, QUEUE_PURPOSE, token);
  if (!payload || typeof payload.n !== 'number')
    throw new HttpProblem(FailureCode.UNAUTHORIZED, 'the queue token is invalid or expired');
  if (payload.e !== eventId)
    throw new HttpProblem(FailureCode.FORBIDDEN, 'this queue token belongs to another event');
  return { eventId: payload.e, fanId: payload.f, place: payload.n };
}

/** An admission out of the waiting room: one fan, one position, until `expiresAt`. */
export interface AdmissionClaims {
  eventId: string;
  fanId: string;
  position: number;
  expiresAt: number;
}

interface AdmissionPayload {
  e: string;
  f: string;
  p: number;
  exp: number;
}

/** Deterministic: the same admission always yields the same token, so polls can hand it out again. */
export function issueAdmissionToken(secret: string, claims: AdmissionClaims): string {
  const payload: AdmissionPayload = {
    e: claims.eventId,
    f: claims.fanId,
    p: claims.position,
    exp: claims.expiresAt,
  };
  return signToken(secret, ADMISSION_PURPOSE, payload);
}

/**
 * The admission a purchase request presents, bound to this event and fan (403 NOT_ADMITTED otherwise).
 * Its expiry is left to the caller: an expired admission still identifies a purchase already started.
 */
export function readAdmissionToken(
  token: string | undefined,
  secret: string,
  eventId: string,
  fanId: string,
): AdmissionClaims {
  if (!token) {
    throw new HttpProblem(
      FailureCode.NOT_ADMITTED,
      `event ${eventId} sells through its waiting room: join the queue and present the admission token`,
    );
  }
  const payload = verifyToken<AdmissionPayload>(secret, ADMISSION_PURPOSE, token, 0);
  if (!payload || typeof payload.p !== 'number' || typeof payload.exp !== 'number')
    throw new HttpProblem(FailureCode.NOT_ADMITTED, 'the admission token is not valid');
  if (payload.e !== eventId || payload.f !== fanId)
    throw new HttpProblem(FailureCode.NOT_ADMITTED, 'this admission token belongs to another fan or event');
  return { eventId, fanId, position: payload.p, expiresAt: payload.exp };
}
