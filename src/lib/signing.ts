/**
 * Signed tokens: `<base64url(JSON payload)>.<base64url(HMAC-SHA256)>`. The purpose is part of the MAC,
 * so a token made for one use (a ticket QR, a purchase) is never accepted for another.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function mac(secret: string, purpose: string, body: string): Buffer {
  return createHmac('sha256', secret).update(`${purpose}.${body}`).digest();
}

export function signToken(secret: string, purpose: string, payload: object): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(secret, purpose, body).toString('base64url')}`;
}

/** The payload when the signature is right (and `exp`, if present, is in the future); else undefined. */
export function verifyToken<T extends object>(
  secret: string,
  purpose: string,
  token: string,
  now = Date.now(),
): T | undefined {
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  const [body, signature] = parts;
  const given = Buffer.from(signature, 'base64url');
  const expected = mac(secret, purpose, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T & { exp?: number };
    if (typeof payload !== 'object' || payload === null) return undefined;
    if (payload.exp !== undefined && payload.exp <= now) return undefined;
    return payload;
  } catch {
    return undefined;
  }
}
