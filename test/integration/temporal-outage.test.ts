/**
 * The Temporal server goes away under the API: the API answers 503 with Retry-After at once instead of
 * hanging, and serves again by itself once the server is back. The test runs a dev server of its own
 * (on a SQLite file, as `npm start` does) so it can kill and restart it.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureTemporalCli } from '../../tools/dev/provision';
import { freePort, startTemporalDevServer, type TemporalServer } from '../../tools/dev/services';
import { purchaseWorkflowId } from '../../src/sagas/purchase/contract';
import { eventually, fanHeaders, openStack, uniqueId, type Stack } from '../support/stack';

let stack: Stack;
let temporal: TemporalServer;
let restart: () => Promise<TemporalServer>;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ticketdrop-outage-'));
  const options = {
    bin: ensureTemporalCli(),
    port: await freePort(),
    dbFile: path.join(dir, 'temporal.sqlite'),
    logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, 'temporal-outage.log'),
  };
  restart = () => startTemporalDevServer(options);
  temporal = await restart();
  stack = await openStack({ temporalAddress: temporal.address });
});

afterAll(async () => {
  await stack?.close();
  await temporal?.stop();
});

it('answers 503 at once while the Temporal server is down, and serves again once it is back', async () => {
  const fanId = uniqueId('fan');
  const purchaseId = purchaseWorkflowId(uniqueId('outage'), fanId);
  const read = async () => {
    const started = Date.now();
    const res = await stack.app.inject({
      method: 'GET',
      url: `/purchases/${purchaseId}`,
      headers: await fanHeaders(fanId),
    });
    return { res, ms: Date.now() - started };
  };
  // Up: the saga is asked, and there is none.
  expect((await read()).res.statusCode).toBe(404);

  temporal.child.kill('SIGKILL');
  await new Promise((resolve) => temporal.child.once('exit', resolve));
  // Within a few probes the API knows; from then on it answers at once (a call left to its deadline
  // against a gone server would wait 10 s and more).
  const down = await eventually(async () => {
    const answer = await read();
    return answer.res.statusCode === 503 && answer.ms < 1_000 ? answer : undefined;
  }, 20_000);
  expect(down.res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(down.res.headers['retry-after']).toBeDefined();
  expect(down.res.json()).toMatchObject({ code: 'UNAVAILABLE', status: 503 });
  const again = await read();
  expect(again.res.statusCode).toBe(503);
  expect(again.ms).toBeLessThan(1_000);

  // Back on the same port and store: the API serves again, no restart of its own.
  temporal = await restart();
  const served = await eventually(async () => {
    const answer = await read();
    return answer.res.statusCode === 404 ? answer : undefined;
  }, 30_000);
  expect(served.res.json()).toMatchObject({ code: 'NOT_FOUND' });
}, 90_000);
