/**
 * `npx ticketdrop fan-token <fanId> [--ttl <seconds>]`: a fan token from `npm start`'s dev issuer, for curl
 * and the API docs page. It prints the JWT alone, so `$(npx ticketdrop fan-token fan-1)` fits a header.
 */
import { parseArgs } from 'node:util';
import { loadFanIdentityConfig } from '../../src/config';
import { isFanId } from '../../src/entities/queue/contract';
import { issuerFor, mintFanToken } from './fan-issuer';
import { localEnv } from './local-stack-file';

const USAGE = 'usage: ticketdrop fan-token <fanId> [--ttl <seconds>]';

export async function main(argv = process.argv.slice(3)): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ttl: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const [fanId] = positionals;
  if (values.help || positionals.length !== 1 || !isFanId(fanId)) {
    console.error(`${USAGE}\n  fanId matches ^[a-z0-9][a-z0-9_-]{0,63}$`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const ttlSec = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttlSec !== undefined && !(Number.isInteger(ttlSec) && ttlSec > 0)) {
    console.error(`--ttl takes a whole number of seconds\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  try {
    const issuer = issuerFor(loadFanIdentityConfig(localEnv()));
    console.log(await mintFanToken(issuer, fanId, { ttlSec }));
  } catch (err) {
    console.error(
      `no dev issuer: run \`npm start\` first (it keeps the key in .data/secrets.json), or set TICKETDROP_FAN_JWT_SECRET, _ISSUER and _AUDIENCE\n  (${err instanceof Error ? err.message : String(err)})`,
    );
    process.exitCode = 1;
  }
}
