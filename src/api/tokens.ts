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
