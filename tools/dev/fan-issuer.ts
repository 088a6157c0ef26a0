/**
 * The local dev issuer: it stands in for a ticketing site's identity provider, minting fan tokens (HS256
 * JWTs) with the secret `npm start` keeps in `.data/secrets.json`. TicketDrop itself only verifies tokens;
 * the drop simulator, the scenarios, the tests and `npx ticketdrop fan-token <fanId>` mint them here.
 */
import { SignJWT } from 'jose';
import type { FanIdentityConfig } from '../../src/config';

/** The dev issuer's names: what `npm start` configures the API to expect. */
export const DEV_ISSUER = 'ticketdrop-dev-issuer';
export const DEV_AUDIENCE = 'ticketdrop';
/** How long a minted token lives unless asked otherwise: longer than any drop. */
export const DEV_TOKEN_TTL_SEC = 12 * 60 * 60;

export interface FanIssuer {
  issuer: string;
  audience: string;
  secret: string;
}

/** The issuer that matches an HS256 verification config (tests, the local stack). */
export function issuerFor(config: FanIdentityConfig): FanIssuer {
  if (config.key.kind !== 'secret') {
    throw new Error('the dev issuer mints HS256 tokens: TicketDrop must be configured with a shared secret');
  }
  return { issuer: config.issuer, audience: config.audience, secret: config.key.secret };
}

export interface MintOptions {
  /** Seconds from now (default DEV_TOKEN_TTL_SEC); negative for an already expired token. */
  ttlSec?: number;
  /** Seconds from now before which the token is not valid. */
  notBeforeSec?: number;
}

export async function mintFanToken(
  issuer: FanIssuer,
  fanId: string,
  options: MintOptions = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(issuer.issuer)
    .setAudience(issuer.audience)
    .setSubject(fanId)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSec ?? DEV_TOKEN_TTL_SEC));
  if (options.notBeforeSec !== undefined) jwt.setNotBefore(now + options.notBeforeSec);
  return jwt.sign(new TextEncoder().encode(issuer.secret));
}

/**
 * Tokens for many fans at once (a drop's crowd): HMAC signing is cheap, but 50,000 awaits are not free, so
 * they are minted in chunks before the crowd is let go.
 */
export async function mintFanTokens(
  issuer: FanIssuer,
  fanIds: readonly string[],
): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  const CHUNK = 1_000;
  for (let i = 0; i < fanIds.length; i += CHUNK) {
    const chunk = fanIds.slice(i, i + CHUNK);
    const minted = await Promise.all(chunk.map((fanId) => mintFanToken(issuer, fanId)));
    chunk.forEach((fanId, j) => tokens.set(fanId, minted[j]!));
  }
  return tokens;
}

/** The API's environment for verifying the dev issuer's tokens. */
export function devFanIdentityEnv(secret: string): Record<string, string> {
  return {
    TICKETDROP_FAN_JWT_ISSUER: DEV_ISSUER,
    TICKETDROP_FAN_JWT_AUDIENCE: DEV_AUDIENCE,
    TICKETDROP_FAN_JWT_SECRET: secret,
  };
}
