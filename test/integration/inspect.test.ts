/**
 * The debugging views (`ticketdrop workflow …`) on real failures made by the simulators: a declined
 * purchase, a payment that times out, a release stuck behind a payment provider outage, two purchases
 * racing for one seat, and the queue entity mid-drop. Every JSON output is checked against its published
 * schema and every Mermaid diagram with the real Mermaid parser.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';
import { runCli } from '../../tools/inspect/cli';
import {
  GroupedListSchema,
  ListSchema,
  PendingSchema,
  ShowSchema,
  TraceSchema,
} from '../../tools/inspect/schema';
import { Knobs } from '../../src/providers/knobs';
import type { ProviderStore } from '../../src/providers/store';
import { joinQueue } from '../support/fans';
import { invalidMermaid } from '../support/mermaid';
import {
  adminHeaders,
  createTestEvent,
  eventually,
  finalStatus,
  openProviderStore,
  openStack,
  purchaseStatus,
  setKnobs,
  startPurchase,
  uniqueId,
  type Stack,
} from '../support/stack';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

let stack: Stack;
let store: ProviderStore;
let knobs: Knobs;
beforeAll(async () => {
  stack = await openStack();
  store = openProviderStore();
  knobs = new Knobs(store);
});
afterEach(() => knobs.reset());
afterAll(async () => {
  store.close();
  await stack.close();
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: process.env,
  });
  return { code, stdout, stderr };
}

/** Runs a failure listing until visibility has the failures (it answers exit 1 while it has none). */
function onceVisible(...argv: string[]): Promise<string> {
  return eventually(
    async () => {
      const result = await cli(...argv);
      return result.code === 0 ? result.stdout : undefined;
    },
    15_000,
    'the failure in visibility',
  );
}

/** Runs a view that must succeed and returns what it printed. */
async function view(...argv: string[]): Promise<string> {
  const result = await cli(...argv);
  if (result.code !== 0) throw new Error(`ticketdrop ${argv.join(' ')} → ${result.code}: ${result.stderr}`);
  return result.stdout;
}

const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
function expectSchema<S extends TSchema>(schema: S, text: string): Static<S> {
  const value = JSON.parse(text) as Static<S>;
  const validate = ajv.compile(schema);
  if (!validate(value))
    throw new Error(`output does not fit the schema: ${ajv.errorsText(validate.errors)}\n${text}`);
  return value;
}

/** Parses every diagram with the real Mermaid parser. */
async function expectValidMermaid(...diagrams: string[]): Promise<void> {
  expect(invalidMermaid(diagrams)).toEqual([]);
}

/** All three formats of one view: text, JSON checked against `schema`, Mermaid parsed. */
async function allFormats<S extends TSchema>(schema: S, ...argv: string[]) {
  const text = await view(...argv);
  const json = expectSchema(schema, await view(...argv, '-o', 'json'));
  const mermaid = await view(...argv, '--format', 'mermaid');
  await expectValidMermaid(mermaid);
  return { text, json, mermaid };
}

describe('ticketdrop workflow … on real failures', () => {
  it('a declined purchase: listed and grouped as PAYMENT_DECLINED, traced as reserve ✓ → payment ✗ → refund ✓ → release ✓', async () => {
    const eventId = await createTestEvent(stack);
    const started = await startPurchase(stack, eventId, {
      fanId: uniqueId('fan'),
      seatId: 'A1',
      paymentToken: 'tok_declined',
    });
    expect((await finalStatus(stack, started)).failure?.code).toBe('PAYMENT_DECLINED');

    const listed = await onceVisible(
      'workflow',
      'list',
      '--failed',
      '--since',
      '5m',
      '--event',
      eventId,
      '-o',
      'json',
    );
    const list = expectSchema(ListSchema, listed);
    expect(list.failures).toHaveLength(1);
    expect(list.failures[0]).toMatchObject({
      workflowId: started.purchaseId,
      rootCause: { code: 'PAYMENT_DECLINED' },
    });

    const grouped = await allFormats(
      GroupedListSchema,
      'workflow',
      'list',
      '--failed',
      '--since',
      '5m',
      '--event',
      eventId,
      '--group-by',
      'error',
    );
    expect(grouped.json.groups).toEqual([
      expect.objectContaining({ key: 'PAYMENT_DECLINED', count: 1, percent: 100 }),
    ]);
    expect(grouped.text).toMatch(/1\s+100\.0%.*PAYMENT_DECLINED/);
    expect(grouped.mermaid).toContain('"PAYMENT_DECLINED" : 1');

    const trace = await allFormats(
      TraceSchema,
      'workflow',
      'describe',
      '--trace-root-cause',
      '-w',
      started.purchaseId,
    );
    expect(trace.text).toContain(
      'Saga: reserve ✓ → payment ✗ → refund ✓ (compensation) → release ✓ (compensation)',
    );
    expect(trace.json.rootCause).toMatchObject({ code: 'PAYMENT_DECLINED', workflowId: started.purchaseId });
    expect(trace.json.steps.map((s) => [s.step, s.status, s.compensation])).toEqual([
      ['reserve', 'completed', false],
      ['payment', 'failed', false],
      ['refund', 'completed', true],
      ['release', 'completed', true],
    ]);

    const show = await allFormats(ShowSchema, 'workflow', 'show', '--compact', '-w', started.purchaseId);
    const charge = show.json.workflows[0].steps.find((s) => s.name === 'chargePayment');
    expect(charge).toMatchObject({ kind: 'activity', status: 'failed', error: { code: 'PAYMENT_DECLINED' } });
    expect(show.text).toContain(`${started.purchaseId} (purchase) failed`);

    const pending = await allFormats(
      PendingSchema,
      'workflow',
      'describe',
      '--pending',
      '-w',
      started.purchaseId,
    );
    expect(pending.json.activities).toEqual([]);
    expect(pending.text).toContain('Nothing pending: the workflow is failed.');
  });

  it('a payment that hangs: pending shows the charge being retried, then the purchase fails PAYMENT_TIMEOUT', async () => {
    const eventId = await createTestEvent(stack);
    const started = await startPurchase(stack, eventId, {
      fanId: uniqueId('fan'),
      seatId: 'A2',
      paymentToken: 'tok_timeout',
    });
    const pending = await eventually(
      async () => {
        const out = await view('workflow', 'describe', '--pending', '-w', started.purchaseId, '-o', 'json');
        const report = expectSchema(PendingSchema, out);
        return report.activities.some((a) => a.name === 'chargePayment') ? report : undefined;
      },
      10_000,
      'the charge pending',
    );
    expect(pending.activities[0]).toMatchObject({ name: 'chargePayment', maximumAttempts: 3 });
    const mermaid = await view(
      'workflow',
      'describe',
      '--pending',
      '-w',
      started.purchaseId,
      '--format',
      'mermaid',
    );
    expect(mermaid).toContain('Pending activities');
    await expectValidMermaid(mermaid);

    expect((await finalStatus(stack, started)).failure?.code).toBe('PAYMENT_TIMEOUT');
    const trace = await allFormats(
      TraceSchema,
      'workflow',
      'describe',
      '--trace-root-cause',
      '-w',
      started.purchaseId,
    );
    expect(trace.json.rootCause?.code).toBe('PAYMENT_TIMEOUT');
    // The view reports the attempts the server recorded: two, unless a slow machine spent the charge's
    // schedule-to-close budget before the second could start.
    // The oracle is the real temporal CLI's own reading of the history (pass-through, JSON).
    const raw = JSON.parse(
      (await cli('workflow', 'show', '-w', started.purchaseId, '-o', 'json')).stdout,
    ) as {
      events: { eventType: string; activityTaskStartedEventAttributes?: { attempt: number } }[];
    };
    const recorded = raw.events.find((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_STARTED')
      ?.activityTaskStartedEventAttributes?.attempt;
    expect(recorded).toBeGreaterThanOrEqual(1);
    expect(trace.json.steps.find((s) => s.step === 'payment')).toMatchObject({
      status: 'timed-out',
      attempts: recorded,
    });
    const show = await allFormats(ShowSchema, 'workflow', 'show', '--compact', '-w', started.purchaseId);
    const attempts = recorded! > 1 ? ` \\(${recorded} attempts\\)` : '';
    expect(show.text).toMatch(new RegExp(`⏱ chargePayment .*timed out \\(start-to-close\\)${attempts}`));
    const list = await onceVisible(
      'workflow',
      'list',
      '--failed',
      '--event',
      eventId,
      '--error-contains',
      'PAYMENT_TIMEOUT',
      '--compact-errors',
    );
    expect(list).toContain(`${started.purchaseId}`);
    expect(list).toContain('PAYMENT_TIMEOUT: the payment gateway did not answer in time');
  });

  it('a release stuck behind a payment outage: the refund retries, the release waits, then both run', async () => {
    const eventId = await createTestEvent(stack);
    await setKnobs(knobs, { paymentOutage: true });
    const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A3' });

    const stuck = await eventually(
      async () => {
        const report = expectSchema(
          PendingSchema,
          await view('workflow', 'describe', '--pending', '-w', started.purchaseId, '-o', 'json'),
        );
        const refund = report.activities.find((a) => a.name === 'refundPayment');
        return (refund?.attempt ?? 0) >= 2 ? report : undefined;
      },
      20_000,
      'the refund retrying',
    );
    expect(stuck.activities[0]).toMatchObject({
      name: 'refundPayment',
      maximumAttempts: 0,
      lastFailure: { message: expect.stringContaining('provider outage') },
    });
    expect(stuck.activities[0].nextAttemptAt).toBeDefined();

    const trace = await allFormats(
      TraceSchema,
      'workflow',
      'describe',
      '--trace-root-cause',
      '-w',
      started.purchaseId,
    );
    expect(trace.text).toContain(
      'reserve ✓ → payment ✗ → refund … (compensation) → release ⏸ (compensation)',
    );
    expect(trace.json.rootCause).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(trace.json.steps.find((s) => s.step === 'refund')?.attempts).toBeGreaterThanOrEqual(2);
    const pendingMermaid = await view(
      'workflow',
      'describe',
      '--pending',
      '-w',
      started.purchaseId,
      '-o',
      'mermaid',
    );
    expect(pendingMermaid).toContain('refundPayment');
    await expectValidMermaid(pendingMermaid);
    expect((await purchaseStatus(stack, started)).state).not.toMatch(/failed|completed/);

    await setKnobs(knobs, { paymentOutage: false });
    expect((await finalStatus(stack, started)).failure?.code).toBe('PROVIDER_UNAVAILABLE');
    const after = expectSchema(
      TraceSchema,
      await view('workflow', 'describe', '--trace-root-cause', '-w', started.purchaseId, '-o', 'json'),
    );
    expect(after.steps.filter((s) => s.compensation).map((s) => [s.step, s.status])).toEqual([
      ['refund', 'completed'],
      ['release', 'completed'],
    ]);
    const show = await view('workflow', 'show', '--compact', '-w', started.purchaseId);
    expect(show).toMatch(/✓ refundPayment .*attempts, last error: .*provider outage/);
  });

  it('two purchases racing for one seat: one merged diagram with the seat entity, one claim accepted and one rejected', async () => {
    const eventId = await createTestEvent(stack);
    const [a, b] = await Promise.all(
      ['one', 'two'].map((who) => startPurchase(stack, eventId, { fanId: uniqueId(who), seatId: 'A4' })),
    );
    const outcomes = await Promise.all([finalStatus(stack, a!), finalStatus(stack, b!)]);
    expect(outcomes.map((o) => o.state).sort()).toEqual(['completed', 'failed']);
    const loser = outcomes[0]!.state === 'failed' ? a! : b!;

    const merged = await allFormats(
      ShowSchema,
      'workflow',
      'show',
      '--compact',
      '-w',
      a!.purchaseId,
      '-w',
      b!.purchaseId,
    );
    const seat = `seat-${eventId}-A4`;
    expect(merged.mermaid).toMatch(new RegExp(`participant p2 as ${seat}`));
    expect(merged.mermaid).toMatch(/p2-->>p[01]: ✓ seatId=A4/);
    expect(merged.mermaid).toMatch(/p2--xp[01]: ✗ SEAT_TAKEN/);
    const claims = merged.json.workflows.map((w) => w.steps.find((s) => s.name === 'reserveSeat'));
    expect(claims.map((c) => c?.status).sort()).toEqual(['completed', 'failed']);
    expect(claims.every((c) => c?.peer === seat)).toBe(true);

    const trace = expectSchema(
      TraceSchema,
      await view('workflow', 'describe', '--trace-root-cause', '-w', loser.purchaseId, '-o', 'json'),
    );
    expect(trace.rootCause?.code).toBe('SEAT_TAKEN');
    const seatView = await allFormats(PendingSchema, 'workflow', 'describe', '--pending', '-w', seat);
    expect(seatView.json.entity).toMatchObject({ kind: 'seat', seatId: 'A4', status: 'sold' });
  });

  it('the queue entity mid-drop: admitted and waiting counts, its timeline folds the stream of messages', async () => {
    const eventId = await createTestEvent(stack, {
      admission: 'queue',
      rows: 1,
      seatsPerRow: 20,
      maxActivePurchases: 5,
    });
    const fans = Array.from({ length: 40 }, (_, i) => `fan-${i}`);
    await Promise.all(fans.map((fanId) => joinQueue(stack, eventId, fanId)));
    const queueId = `queue-${eventId}`;
    const report = await eventually(
      async () => {
        const out = expectSchema(
          PendingSchema,
          await view('workflow', 'describe', '--pending', '-w', queueId, '-o', 'json'),
        );
        return out.entity?.kind === 'queue' && out.entity.joined === 40 ? out : undefined;
      },
      15_000,
      'all joins applied',
    );
    expect(report.entity).toMatchObject({
      kind: 'queue',
      joined: 40,
      admitted: 5,
      waiting: 35,
      active: 5,
      sold: 0,
    });
    const text = await view('workflow', 'describe', '--pending', '-w', queueId);
    expect(text).toContain('admitted 5, waiting 35 (joined 40)');
    await expectValidMermaid(
      await view('workflow', 'describe', '--pending', '-w', queueId, '--format', 'mermaid'),
    );
    const show = await allFormats(ShowSchema, 'workflow', 'show', '--compact', '-w', queueId);
    const joins = show.json.workflows[0].steps.filter((s) => s.kind === 'update' && s.name === 'joinQueue');
    expect(joins.reduce((n, s) => n + (s.count ?? 1), 0)).toBeGreaterThanOrEqual(1);
  });
});

describe('ticketdrop: pass-through and bad input', () => {
  it('hands other workflow commands to the real temporal CLI', async () => {
    const eventId = await createTestEvent(stack);
    const result = await cli('workflow', 'describe', '-w', `event-${eventId}`);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`event-${eventId}`);
    expect(result.stdout).toMatch(/Type\s+eventEntity/);
    expect(result.stdout).toContain('Pending Activities: 0');
    const count = await cli('workflow', 'count', '--query', `WorkflowId = "event-${eventId}"`);
    expect(count.stdout).toMatch(/Total: 1/);
  });

  it('runs as `npx ticketdrop` from the package bin', async () => {
    const { stdout } = await run(
      'node',
      [path.join(ROOT, 'bin/ticketdrop.cjs'), 'workflow', 'list', '--failed', '--help'],
      {
        cwd: ROOT,
        env: process.env,
      },
    );
    expect(stdout).toContain('workflow list --failed');
  });

  it.each([
    [
      ['workflow', 'show', '--compact', '-w', 'purchase-nobody-here'],
      1,
      /^ticketdrop: workflow not found: purchase-nobody-here\n$/,
    ],
    [
      ['workflow', 'describe', '--pending', '-w', 'seat-nope-A1'],
      1,
      /^ticketdrop: workflow not found: seat-nope-A1\n$/,
    ],
    [
      ['workflow', 'list', '--failed', '--event', 'no-such-event', '--since', '5m'],
      1,
      /^ticketdrop: no failed workflows in the last 5m for event no-such-event\n$/,
    ],
    [
      ['workflow', 'list', '--failed', '--since', 'yesterday'],
      2,
      /^ticketdrop: --since must look like 30s, 5m, 2h or 1d, got "yesterday"\n$/,
    ],
    [
      ['workflow', 'list', '--failed', '--group-by', 'colour'],
      2,
      /^ticketdrop: unknown --group-by key "colour" \(use error, type, status\)\n$/,
    ],
    [
      ['workflow', 'show', '--compact', '-w', 'x', '-o', 'yaml'],
      2,
      /^ticketdrop: unknown output format "yaml"/,
    ],
    [['workflow', 'describe', '--pending'], 2, /^ticketdrop: give the workflow with -w\/--workflow-id ID\n$/],
    [['workflow', 'list', '--failed', '--bogus'], 2, /^ticketdrop: Unknown option '--bogus'/],
    [
      ['workflow', 'list', '--failed', '--address', '127.0.0.1:1'],
      1,
      /^ticketdrop: Temporal server not reachable at 127\.0\.0\.1:1/,
    ],
  ])('%j → exit %i with one line', async (argv, code, message) => {
    const result = await cli(...(argv as string[]));
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message as RegExp);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
  });
});

describe('GET /events/:eventId/failures (admin; the dashboard links here)', () => {
  it('groups an event’s failed purchases by code and lists the ones with the asked code; unknown event → 404', async () => {
    const eventId = await createTestEvent(stack);
    const declined = await startPurchase(stack, eventId, {
      fanId: uniqueId('fan'),
      seatId: 'A5',
      paymentToken: 'tok_declined',
    });
    await finalStatus(stack, declined);
    const body = await eventually(
      async () => {
        const response = await stack.app.inject({
          url: `/events/${eventId}/failures?code=PAYMENT_DECLINED`,
          headers: adminHeaders(),
        });
        const json = response.json() as {
          total: number;
          groups: { key: string; count: number }[];
          failures?: { workflowId: string }[];
        };
        return response.statusCode === 200 && json.total === 1 ? json : undefined;
      },
      15_000,
      'the failure in visibility',
    );
    expect(body.groups).toEqual([expect.objectContaining({ key: 'PAYMENT_DECLINED', count: 1 })]);
    expect(body.failures?.map((f) => f.workflowId)).toEqual([declined.purchaseId]);
    const text = await stack.app.inject({
      url: `/events/${eventId}/failures?code=PAYMENT_DECLINED&format=text`,
      headers: adminHeaders(),
    });
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.body).toMatch(/1\s+100\.0%.*PAYMENT_DECLINED/);
    expect(text.body).toContain(declined.purchaseId);
    const missing = await stack.app.inject({
      url: '/events/no-such-event/failures',
      headers: adminHeaders(),
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);
    const bad = await stack.app.inject({
      url: `/events/${eventId}/failures?since=yesterday`,
      headers: adminHeaders(),
    });
    expect(bad.statusCode).toBe(400);
  });

  it('answers only the admin: without the token 401, with a fan-facing token 401, nothing listed', async () => {
    const eventId = await createTestEvent(stack);
    for (const headers of [{}, { authorization: 'Bearer not-the-admin-token' }]) {
      const response = await stack.app.inject({ url: `/events/${eventId}/failures?format=text`, headers });
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });

  it('takes a window of any size: a thousand years, or more digits than a date holds, list everything', async () => {
    const eventId = await createTestEvent(stack);
    for (const since of ['365000d', `${'9'.repeat(30)}d`, '0.5ms']) {
      const response = await stack.app.inject({
        url: `/events/${eventId}/failures?since=${since}`,
        headers: adminHeaders(),
      });
      expect({ since, status: response.statusCode }).toEqual({ since, status: 200 });
      expect(response.json()).toMatchObject({ eventId, total: 0 });
    }
    for (const since of ['1.2.3s', '-5m', '5 m', '5w', `${'1'.repeat(40)}s`]) {
      const response = await stack.app.inject({
        url: `/events/${eventId}/failures?since=${encodeURIComponent(since)}`,
        headers: adminHeaders(),
      });
      expect({ since, status: response.statusCode }).toEqual({ since, status: 400 });
      expect(response.json()).toMatchObject({ code: 'VALIDATION' });
    }
  });
});
