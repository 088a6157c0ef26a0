/**
 * Fan tokens, verified as the API verifies them: every way a token can be wrong is refused 401 with the
 * contract's code, and each key kind a real identity provider uses (an HS256 secret, a PEM public key for
 * RS256, ES256 or EdDSA, a JWKS URL) lets its own tokens in and nobody else's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { fanVerifier } from '../../src/api/plugins/fan-identity';
import { HttpProblem } from '../../src/api/problem';
import { loadFanIdentityConfig, type FanIdentityConfig } from '../../src/config';
import { ConfigError } from '../../src/lib/env';
import { mintFanToken, type FanIssuer } from '../../tools/dev/fan-issuer';

const ISSUER: FanIssuer = {
  issuer: 'https://login.example.test',
  audience: 'ticketdrop',
  secret: 'unit-test-fan-secret-0123456789abcdef',
};
const HS256: FanIdentityConfig = {
  issuer: ISSUER.issuer,
  audience: ISSUER.audience,
  key: { kind: 'secret', secret: ISSUER.secret },
  algorithms: ['HS256'],
  clockToleranceSec: 5,
};

/** The problem a verification refused with (or the fan id it accepted). */
async function outcome(verify: (token?: string) => Promise<string>, token?: string) {
  try {
    return { fanId: await verify(token) };
  } catch (err) {
    if (err instanceof HttpProblem) return { status: err.status, code: err.code, detail: err.detail };
    throw err;
  }
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('fan tokens signed with a shared secret (HS256)', () => {
  const verify = fanVerifier(HS256);

  it('accepts a valid token: the fan is its sub', async () => {
    expect(await outcome(verify, await mintFanToken(ISSUER, 'fan-1'))).toEqual({ fanId: 'fan-1' });
  });

  it.each([
    ['no token at all', async () => undefined, /needs a fan token/],
    ['an expired token', () => mintFanToken(ISSUER, 'fan-1', { ttlSec: -60 }), /expired/],
    [
      'a token not valid yet (nbf)',
      () => mintFanToken(ISSUER, 'fan-1', { notBeforeSec: 120 }),
      /not valid yet/,
    ],
    ['another issuer', () => mintFanToken({ ...ISSUER, issuer: 'https://evil.test' }, 'fan-1'), /iss/],
    ['another audience', () => mintFanToken({ ...ISSUER, audience: 'another-app' }, 'fan-1'), /aud/],
    [
      'another key',
      () => mintFanToken({ ...ISSUER, secret: 'some-other-secret-0123456789abcdefgh' }, 'fan-1'),
      /invalid/,
    ],
    [
      'alg none (an unsigned token)',
      async () =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISSUER.issuer, aud: ISSUER.audience, sub: 'fan-1', exp: now() + 600 })}.`,
      /algorithm|invalid/,
    ],
    [
      'tampered claims (sub changed, signature kept)',
      async () => {
        const [header, payload, signature] = (await mintFanToken(ISSUER, 'fan-1')).split('.');
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as object;
        return `${header}.${b64({ ...claims, sub: 'fan-2' })}.${signature}`;
      },
      /invalid/,
    ],
    ['a sub that is no fan id', () => mintFanToken(ISSUER, 'Fan One!'), /sub/],
    [
      'no exp',
      () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(ISSUER.issuer)
          .setAudience(ISSUER.audience)
          .setSubject('fan-1')
          .sign(new TextEncoder().encode(ISSUER.secret)),
      /exp/,
    ],
    ['garbage', async () => 'not.a.jwt', /invalid/],
  ])('refuses %s with 401 UNAUTHORIZED', async (_what, token, detail) => {
    const refused = await outcome(verify, await token());
    expect(refused).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect((refused as { detail: string }).detail).toMatch(detail);
  });

  it('still refuses a token once it has expired, even after accepting it earlier', async () => {
    const token = await mintFanToken(ISSUER, 'fan-1', { ttlSec: 1 });
    const tight = fanVerifier({ ...HS256, clockToleranceSec: 0 });
    expect(await outcome(tight, token)).toEqual({ fanId: 'fan-1' });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await outcome(tight, token)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('refuses an RS256 token when only HS256 is configured (no algorithm confusion)', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(ISSUER.issuer)
      .setAudience(ISSUER.audience)
      .setSubject('fan-1')
      .setExpirationTime('10m')
      .sign(privateKey);
    expect(await outcome(verify, token)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });
});

async function signed(alg: string, key: CryptoKey, sub: string, kid?: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg, ...(kid && { kid }) })
    .setIssuer(ISSUER.issuer)
    .setAudience(ISSUER.audience)
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(key);
}

describe.each(['RS256', 'ES256', 'EdDSA'] as const)('fan tokens signed with a %s key pair', (alg) => {
  it('a PEM public key lets the provider’s tokens in and a different key pair’s out', async () => {
    const provider = await generateKeyPair(alg, { extractable: true });
    const impostor = await generateKeyPair(alg);
    const config = loadFanIdentityConfig({
      TICKETDROP_FAN_JWT_ISSUER: ISSUER.issuer,
      TICKETDROP_FAN_JWT_AUDIENCE: ISSUER.audience,
      TICKETDROP_FAN_JWT_PUBLIC_KEY: await exportSPKI(provider.publicKey),
    });
    const verify = fanVerifier(config);
    expect(await outcome(verify, await signed(alg, provider.privateKey, 'fan-7'))).toEqual({
      fanId: 'fan-7',
    });
    expect(await outcome(verify, await signed(alg, impostor.privateKey, 'fan-7'))).toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
    });
    // An HS256 token "signed" with the public key's text must not pass (the classic confusion attack).
    const pem = await exportSPKI(provider.publicKey);
    const confused = await mintFanToken({ ...ISSUER, secret: pem }, 'fan-7');
    expect(await outcome(verify, confused)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });
});

describe('fan tokens verified against the provider’s JWKS', () => {
  let server: Server;
  let url: string;
  let up = true;
  let provider: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    provider = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(provider.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    server = createServer((request, response) => {
      if (!up) {
        request.socket.destroy();
        return;
      }
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => new Promise((resolve) => server.close(resolve)));

  it('accepts tokens with a published kid, refuses others, and answers 503 while the keys are unreachable', async () => {
    const config = loadFanIdentityConfig({
      TICKETDROP_FAN_JWT_ISSUER: ISSUER.issuer,
      TICKETDROP_FAN_JWT_AUDIENCE: ISSUER.audience,
      TICKETDROP_FAN_JWKS_URL: url,
    });
    const verify = fanVerifier(config);
    expect(await outcome(verify, await signed('ES256', provider.privateKey, 'fan-9', 'k1'))).toEqual({
      fanId: 'fan-9',
    });
    const other = await generateKeyPair('ES256');
    expect(await outcome(verify, await signed('ES256', other.privateKey, 'fan-9', 'k2'))).toMatchObject({
      status: 401,
    });

    up = false;
    const cold = fanVerifier(config); // a fresh process: no keys fetched yet
    expect(await outcome(cold, await signed('ES256', provider.privateKey, 'fan-9', 'k1'))).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
    });
    up = true;
  });
});

describe('fan identity configuration', () => {
  const base = { TICKETDROP_FAN_JWT_ISSUER: 'iss', TICKETDROP_FAN_JWT_AUDIENCE: 'aud' };

  it.each([
    ['no key source', base, /exactly one/],
    [
      'two key sources',
      {
        ...base,
        TICKETDROP_FAN_JWT_SECRET: 'x'.repeat(32),
        TICKETDROP_FAN_JWKS_URL: 'https://idp.test/jwks',
      },
      /exactly one/,
    ],
    ['a short secret', { ...base, TICKETDROP_FAN_JWT_SECRET: 'short' }, /32 characters/],
    ['a public key that is not PEM', { ...base, TICKETDROP_FAN_JWT_PUBLIC_KEY: 'hello' }, /PEM/],
    [
      'HS256 allowed with a public key',
      {
        ...base,
        TICKETDROP_FAN_JWKS_URL: 'https://idp.test/jwks',
        TICKETDROP_FAN_JWT_ALGORITHMS: 'HS256,RS256',
      },
      /must not include HS256/,
    ],
    [
      'no issuer',
      { TICKETDROP_FAN_JWT_AUDIENCE: 'aud', TICKETDROP_FAN_JWT_SECRET: 'x'.repeat(32) },
      /ISSUER/,
    ],
  ])('refuses %s', (_what, env, message) => {
    expect(() => loadFanIdentityConfig(env)).toThrow(ConfigError);
    expect(() => loadFanIdentityConfig(env)).toThrow(message);
  });

  it('defaults the algorithms to the key kind', () => {
    expect(loadFanIdentityConfig({ ...base, TICKETDROP_FAN_JWT_SECRET: 'x'.repeat(32) }).algorithms).toEqual([
      'HS256',
    ]);
    expect(
      loadFanIdentityConfig({ ...base, TICKETDROP_FAN_JWKS_URL: 'https://idp.test/jwks' }).algorithms,
    ).toEqual(['RS256', 'ES256', 'EdDSA']);
  });
});
