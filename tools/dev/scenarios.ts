/**
 * `npm run scenario -- <name>`: makes one of the seed's debugging situations happen on `npm start`'s stack
 * through the public API, then runs the `ticketdrop workflow …` commands that diagnose it and prints
 * each command with its output. Ids are fixed, so the commands in README and PLAN.md work as written;
 * running a scenario again reuses its event; a scenario about work in flight then buys as a new fan.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadFanIdentityConfig, loadWorkerConfig } from '../../src/config';
import { Knobs } from '../../src/providers/knobs';
import { ProviderStore } from '../../src/providers/store';
import { issuerFor, mintFanToken } from './fan-issuer';
import { localEnv } from './local-stack-file';
import { ROOT } from './provision';

const env = localEnv();
const API = env.TICKETDROP_API_URL ?? 'http://127.0.0.1:3000';

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${API}${url}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (response.status >= 400)
    throw new Error(`${method} ${url} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** A direct-sale event (no waiting room), created once. */
async function ensureEvent(eventId: string): Promise<void> {
  await call(
    'POST',
    '/events',
    { eventId, name: `Scenario ${eventId}`, rows: 1, seatsPerRow: 10, priceCents: 5000, admission: 'direct' },
    { authorization: `Bearer ${env.TICKETDROP_ADMIN_TOKEN ?? ''}` },
  );
}

interface Purchase {
  purchaseId: string;
  /** The buying fan's token (from the dev issuer): it opens the purchase. */
  token: string;
}

const issuer = issuerFor(loadFanIdentityConfig(env));

/** Buys as `fanId`, logged in through the dev issuer like a fan at the ticketing site. */
async function buy(eventId: string, fanId: string, seatId: string, paymentToken: string): Promise<Purchase> {
  const token = await mintFanToken(issuer, fanId);
  const { purchaseId } = await call(
    'POST',
    `/events/${eventId}/purchases`,
    { seatId, paymentToken },
    { authorization: `Bearer ${token}` },
  );
  return { purchaseId: String(purchaseId), token };
}

async function state(purchase: Purchase, waitMs = 0): Promise<string> {
  const view = await call('GET', `/purchases/${purchase.purchaseId}?waitMs=${waitMs}`, undefined, {
    authorization: `Bearer ${purchase.token}`,
  });
  return String(view.state);
}

/**
 * A purchase that is still to happen: the fan's fixed id the first time (so README's commands name it),
 * a fresh suffix on later runs, since a fan's finished purchase cannot be made again.
 */
async function freshPurchase(
  eventId: string,
  fanId: string,
  seatId: string,
  paymentToken: string,
): Promise<Purchase> {
  const first = await buy(eventId, fanId, seatId, paymentToken);
  if (!['completed', 'failed', 'cancelled'].includes(await state(first))) return first;
  const seats = ['A5', 'A6', 'A7', 'A8', 'A9', 'A10'];
  return buy(eventId, `${fanId}-${Date.now().toString(36)}`, seats[Date.now() % seats.length]!, paymentToken);
}

async function settle(purchase: Purchase): Promise<string> {
  for (;;) {
    const now = await state(purchase, 10_000);
    if (['completed', 'failed', 'cancelled'].includes(now)) return now;
  }
}

/** Prints and runs one `npx ticketdrop …` command, as a reader would type it. */
function ticketdrop(...args: string[]): string {
  console.log(`\n$ npx ticketdrop ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [path.join(ROOT, 'bin/ticketdrop.cjs'), ...args], {
    env,
    encoding: 'utf8',
  });
  process.stdout.write(result.stdout + result.stderr);
  return result.stdout;
}

/** Waits until `describe --pending` shows `activity` pending (at `attempt` or later). */
async function pendingActivity(workflowId: string, activity: string, attempt = 1): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'bin/ticketdrop.cjs'),
        'workflow',
        'describe',
        '--pending',
        '-w',
        workflowId,
        '-o',
        'json',
      ],
      { env, encoding: 'utf8' },
    );
    const report =
      out.status === 0
        ? (JSON.parse(out.stdout) as { activities: { name: string; attempt: number }[] })
        : undefined;
    if (report?.activities.some((a) => a.name === activity && a.attempt >= attempt)) return;
    await sleep(200);
  }
  throw new Error(`${activity} never showed as pending on ${workflowId}`);
}

const SCENARIOS: Record<string, { about: string; run: () => Promise<void> }> = {
  'double-booking': {
    about: 'two fans claim seat A1 of scenario-race at the same moment',
    async run() {
      await ensureEvent('scenario-race');
      const [one, two] = await Promise.all([
        buy('scenario-race', 'user-1', 'A1', 'tok_ok'),
        buy('scenario-race', 'user-2', 'A1', 'tok_ok'),
      ]);
      console.log(`user-1: ${await settle(one)}, user-2: ${await settle(two)}`);
      ticketdrop(
        'workflow',
        'show',
        '--compact',
        '--workflow-id',
        one.purchaseId,
        '--workflow-id',
        two.purchaseId,
        '--format',
        'mermaid',
      );
    },
  },
  'payment-stuck': {
    about: 'a fan pays with tok_timeout: the gateway hangs, the charge is retried, then given up',
    async run() {
      await ensureEvent('scenario-pay');
      const stuck = await freshPurchase('scenario-pay', 'user-3', 'A2', 'tok_timeout');
      await pendingActivity(stuck.purchaseId, 'chargePayment');
      ticketdrop(
        'workflow',
        'describe',
        '--pending',
        '--workflow-id',
        stuck.purchaseId,
        '--format',
        'mermaid',
      );
      console.log(`\nuser-3: ${await settle(stuck)}`);
      ticketdrop('workflow', 'describe', '--trace-root-cause', '--workflow-id', stuck.purchaseId);
    },
  },
  declined: {
    about: "a fan's card is declined: the saga refunds nothing and releases the seat",
    async run() {
      await ensureEvent('scenario-pay');
      const declined = await buy('scenario-pay', 'user-4', 'A3', 'tok_declined');
      console.log(`user-4: ${await settle(declined)}`);
      ticketdrop(
        'workflow',
        'describe',
        '--trace-root-cause',
        '--workflow-id',
        declined.purchaseId,
        '--format',
        'mermaid',
      );
    },
  },
  'stuck-release': {
    about:
      'the payment provider goes down mid-purchase: the refund retries and the seat release waits behind it',
    async run() {
      await ensureEvent('scenario-outage');
      const knobs = new Knobs(new ProviderStore(loadWorkerConfig(env).providersDb));
      knobs.set({ paymentOutage: true });
      try {
        await sleep(500);
        const purchase = await freshPurchase('scenario-outage', 'user-5', 'A4', 'tok_ok');
        await pendingActivity(purchase.purchaseId, 'refundPayment', 2);
        ticketdrop('workflow', 'describe', '--pending', '--workflow-id', purchase.purchaseId);
        ticketdrop('workflow', 'describe', '--trace-root-cause', '--workflow-id', purchase.purchaseId);
        console.log('\n(the provider comes back)');
        knobs.reset();
        console.log(`user-5: ${await settle(purchase)}`);
        ticketdrop(
          'workflow',
          'describe',
          '--trace-root-cause',
          '--workflow-id',
          purchase.purchaseId,
          '--format',
          'mermaid',
        );
      } finally {
        knobs.reset();
      }
    },
  },
};

async function main(): Promise<number> {
  const { positionals } = parseArgs({ allowPositionals: true });
  const scenario = SCENARIOS[positionals[0] ?? ''];
  if (!scenario) {
    console.error("usage: npm run scenario -- <name>   (against npm start's stack)");
    for (const [name, s] of Object.entries(SCENARIOS)) console.error(`  ${name.padEnd(15)} ${s.about}`);
    return 2;
  }
  console.log(`${positionals[0]}: ${scenario.about}`);
  await scenario.run();
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`scenario failed: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
