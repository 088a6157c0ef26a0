/**
 * The live dashboard in a real headless Chromium (the system's /usr/bin/chromium, never a downloaded
 * browser) against the real stack, the API served over HTTP on a loopback port: what a person sees.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { buildApp } from '../../src/api/app';
import { freePort } from '../../tools/dev/services';
import { launchChromium, type HeadlessChromium } from '../../tools/dev/browser';
import type { EventDefinition } from '../../src/entities/event/contract';
import { seatIds } from '../../src/entities/seat/contract';
import { joinQueue, queueMe } from '../support/fans';
import {
  appOptions,
  adminHeaders,
  createTestEvent,
  eventually,
  finalStatus,
  openStack,
  startPurchase,
  uniqueId,
  type Stack,
} from '../support/stack';

// The page's globals, for the callbacks that run in the browser (page.evaluate). Declared in this module
// only: the project's TypeScript program has no DOM library, and the server code should not see one.
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  parentElement: PageElement | null;
  getBoundingClientRect(): { right: number; width: number };
}
declare const document: {
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number };
  querySelector(selector: string): PageElement | null;
  getElementById(id: string): PageElement | null;
};
declare const window: Record<string, unknown>;
declare const MutationObserver: new (callback: (records: { target: unknown }[]) => void) => {
  observe(target: PageElement, options: { subtree: boolean; attributeFilter: string[] }): void;
};

const HOSTILE_NAME = '<script>window.__pwned = 1</script> "Live" & <b>loud</b>';

let stack: Stack;
let chromium: HeadlessChromium;
let base: string;
/** A 500-seat direct event with a hostile name, shared by the tests that only read or buy a seat. */
let bigEvent: string;

beforeAll(async () => {
  stack = await openStack();
  await stack.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
  [chromium, bigEvent] = await Promise.all([
    launchChromium(),
    createTestEvent(stack, { name: HOSTILE_NAME, rows: 20, seatsPerRow: 25 }),
  ]);
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await stack?.close();
});

async function openDashboard(eventId: string, origin = base): Promise<Page> {
  const page = await chromium.context.newPage();
  await page.goto(`${origin}/events/${eventId}/dashboard`);
  await page.locator('#connection[data-state="live"]').waitFor({ timeout: 15_000 });
  return page;
}

const seatStatus = (page: Page, seatId: string): Promise<string | null> =>
  page.locator(`[data-seat="${seatId}"]`).getAttribute('data-status');

/** What the page's counters say, as numbers. */
async function counters(page: Page): Promise<Record<string, number>> {
  const texts = await page
    .locator('[data-counter]')
    .evaluateAll((els: PageElement[]) => els.map((el) => [el.dataset.counter, el.textContent]));
  return Object.fromEntries(texts.map(([key, text]) => [key, Number(String(text).replace(/,/g, ''))]));
}

async function apiSummary(eventId: string): Promise<Record<string, number>> {
  const summary = (await stack.app.inject({ url: `/events/${eventId}` })).json() as {
    available: number;
    held: number;
    sold: number;
    queue: { joined: number; admitted: number; waiting: number };
  };
  const { available, held, sold, queue } = summary;
  return { available, held, sold, ...queue };
}

/** Resolves once the page's counters show what the API answers (both read the same cache). */
async function expectCountersMatchApi(page: Page, eventId: string, keys: string[]): Promise<void> {
  const pick = (all: Record<string, number>) => Object.fromEntries(keys.map((k) => [k, all[k]]));
  await eventually(async () => {
    const [shown, api] = [pick(await counters(page)), pick(await apiSummary(eventId))];
    return JSON.stringify(shown) === JSON.stringify(api) ? true : undefined;
  }, 5_000).catch(async (err: unknown) => {
    expect(pick(await counters(page))).toEqual(pick(await apiSummary(eventId)));
    throw err;
  });
}

describe('the live dashboard', () => {
  it('shows every one of 500 seats, escapes the event name, and lists the event on the start page', async () => {
    const page = await openDashboard(bigEvent);
    expect(await page.locator('[data-seat][data-status="available"]').count()).toBe(500);
    expect(await page.locator('h1').textContent()).toBe(HOSTILE_NAME);
    expect(await page.title()).toContain(HOSTILE_NAME);
    expect(await counters(page)).toMatchObject({ available: 500, held: 0, sold: 0 });
    expect(await page.locator('[data-seat="C12"] a').getAttribute('href')).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/seat-${bigEvent}-C12`,
    );

    const start = await chromium.context.newPage();
    await start.goto(base);
    await expect(start.getByRole('link', { name: HOSTILE_NAME }).getAttribute('href')).resolves.toBe(
      `/events/${bigEvent}/dashboard`,
    );
    for (const p of [page, start])
      expect(await p.evaluate(() => 'pwned' in window || '__pwned' in window)).toBe(false);
    await Promise.all([page.close(), start.close()]);
  });

  it('is usable from the keyboard, names each seat, and fits a phone screen', async () => {
    const page = await openDashboard(bigEvent);
    await page.setViewportSize({ width: 375, height: 812 });
    const focused = () => page.evaluate(() => document.activeElement?.parentElement?.dataset.seat);
    await page.locator('[data-seat="A1"] a').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    expect(await focused()).toBe('B2');
    await page.keyboard.press('End');
    expect(await focused()).toBe('B25');
    expect(await page.locator('[data-seat="B25"] a').getAttribute('aria-label')).toBe(
      'Seat B25, available. Opens its workflow in the Temporal web UI.',
    );
    // One tab stop for the whole map: Tab leaves it.
    await page.keyboard.press('Tab');
    expect(await focused()).toBeUndefined();

    const layout = await page.evaluate(() => ({
      pageWidth: document.documentElement.scrollWidth,
      cell: document.querySelector('[data-seat="A25"]')!.getBoundingClientRect(),
    }));
    expect(layout.pageWidth).toBeLessThanOrEqual(375);
    expect(layout.cell.right).toBeLessThanOrEqual(375);
    expect(layout.cell.width).toBeGreaterThanOrEqual(9);
    await page.close();
  });

  it('turns a purchased seat sold on screen within a second, and its counters match the API', async () => {
    const page = await openDashboard(bigEvent);
    // When the page changed the seat, by the same clock as the test's.
    await page.evaluate(() => {
      const seen: Record<string, number> = {};
      window.soldSeenAt = seen;
      new MutationObserver((records) => {
        for (const { target } of records) {
          const cell = target as PageElement;
          if (cell.dataset.status === 'sold') seen[cell.dataset.seat!] ??= Date.now();
        }
      }).observe(document.getElementById('seat-map')!, { subtree: true, attributeFilter: ['data-status'] });
    });

    const started = await startPurchase(stack, bigEvent, { fanId: uniqueId('fan'), seatId: 'A7' });
    expect(started.statusCode).toBe(202);
    const soldInCacheAt = await eventually(
      async () => ((await stack.cache.getSeat(bigEvent, 'A7'))?.status === 'sold' ? Date.now() : undefined),
      30_000,
      'A7 sold in the cache',
    );
    const soldOnScreenAt = await eventually(
      () => page.evaluate(() => (window.soldSeenAt as Record<string, number>).A7),
      5_000,
      'A7 sold on screen',
    );
    expect(soldOnScreenAt - soldInCacheAt).toBeLessThan(1_000);
    expect(await seatStatus(page, 'A7')).toBe('sold');

    expect((await finalStatus(stack, started)).state).toBe('completed');
    await expectCountersMatchApi(page, bigEvent, ['available', 'held', 'sold']);
    expect(await counters(page)).toMatchObject({ sold: 1, available: 499 });
    await page.close();
  });

  it('shows the waiting room as the API does, and each failure under its code with its link and command', async () => {
    const eventId = await createTestEvent(stack, {
      admission: 'queue',
      rows: 1,
      seatsPerRow: 10,
      maxActivePurchases: 1,
    });
    const page = await openDashboard(eventId);
    const fans = [uniqueId('fan'), uniqueId('fan'), uniqueId('fan')];
    const tokens: string[] = [];
    for (const fanId of fans) tokens.push((await joinQueue(stack, eventId, fanId)).token);
    // One admitted at a time: the first buys and is declined, which admits the second.
    await expectCountersMatchApi(page, eventId, ['joined', 'admitted', 'waiting']);
    expect(await counters(page)).toMatchObject({ joined: 3, admitted: 1, waiting: 2 });

    await eventually(async () => (await queueMe(stack, eventId, tokens[0])).admission);
    const started = await startPurchase(stack, eventId, { fanId: fans[0], paymentToken: 'tok_declined' });
    expect((await finalStatus(stack, started)).failure?.code).toBe('PAYMENT_DECLINED');

    const row = page.locator('#failures tbody tr', { hasText: 'PAYMENT_DECLINED' });
    await row.waitFor({ timeout: 5_000 });
    expect(await row.locator('td.number').textContent()).toBe('1');
    expect(await row.getByRole('link', { name: /PAYMENT_DECLINED/ }).getAttribute('href')).toBe(
      `/events/${eventId}/failures?code=PAYMENT_DECLINED&format=text`,
    );
    expect(await row.locator('code').textContent()).toBe(
      `npx ticketdrop workflow list --failed --group-by error --event ${eventId} --error-contains PAYMENT_DECLINED`,
    );
    // The link serves the grouped failures of this event and lists the purchase behind the code.
    const href = (await row.getByRole('link', { name: /PAYMENT_DECLINED/ }).getAttribute('href'))!;
    const view = await eventually(
      async () => {
        const response = await stack.app.inject({ url: href, headers: adminHeaders() });
        return response.body.includes(started.purchaseId) ? response.body : undefined;
      },
      15_000,
      'the failure view listing the purchase',
    );
    expect(view).toMatch(/1\s+100\.0%.*PAYMENT_DECLINED/);
    await expectCountersMatchApi(page, eventId, [
      'joined',
      'admitted',
      'waiting',
      'available',
      'held',
      'sold',
    ]);
    expect(await counters(page)).toMatchObject({ admitted: 2, waiting: 1 });
    await page.close();
  });

  it('reconnects by itself after the API restarts, and shows what changed meanwhile and after', async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const startApi = async (): Promise<FastifyInstance> => {
      const app = await buildApp(appOptions(stack));
      await app.listen({ host: '127.0.0.1', port });
      return app;
    };
    let api = await startApi();
    const page = await openDashboard(bigEvent, origin);
    const connection = page.locator('#connection');

    await api.close();
    await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: 5_000 });
    // While the API is down, a seat sells (through another API process).
    const whileDown = await startPurchase(stack, bigEvent, { fanId: uniqueId('fan'), seatId: 'T1' });
    expect((await finalStatus(stack, whileDown)).state).toBe('completed');

    api = await startApi();
    try {
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: 15_000 });
      expect(await connection.textContent()).toBe('Live');
      await eventually(async () => ((await seatStatus(page, 'T1')) === 'sold' ? true : undefined), 5_000);
      // And changes after the restart arrive through the new stream.
      const after = await startPurchase(stack, bigEvent, { fanId: uniqueId('fan'), seatId: 'T2' });
      expect((await finalStatus(stack, after)).state).toBe('completed');
      await eventually(async () => ((await seatStatus(page, 'T2')) === 'sold' ? true : undefined), 5_000);
    } finally {
      await page.close();
      await api.close();
    }
  });

  it('keeps up with 200 seat changes a second on 500 seats', async () => {
    // An event that exists only in the cache: the changes are written straight through the projection.
    const eventId = uniqueId('burst');
    const definition = {
      eventId,
      name: 'Burst',
      rows: 20,
      seatsPerRow: 25,
      priceCents: 100,
      holdTtlSeconds: 300,
      admission: 'direct',
      maxActivePurchases: 100,
      admissionTtlSeconds: 120,
    } satisfies EventDefinition;
    const ids = seatIds(20, 25);
    await stack.cache.projectSeats(
      eventId,
      ids.map((seatId) => ({ seatId, status: 'available', version: 0 })),
    );
    await stack.cache.putEvent({ definition, closed: false });
    const page = await chromium.context.newPage();
    await page.goto(`${base}/events/${eventId}/dashboard?measure`);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 15_000 });

    const statuses = ['held', 'sold', 'available'] as const;
    const final = new Map<string, { status: string; version: number }>();
    for (let batch = 0; batch < 40; batch++) {
      const writes = Array.from({ length: 20 }, (_, i) => {
        const seatId = ids[(batch * 37 + i * 25) % ids.length];
        const version = (final.get(seatId)?.version ?? 0) + 1;
        const status = statuses[(batch + i) % 3];
        final.set(seatId, { status, version });
        return stack.cache.projectSeat(eventId, { seatId, status, version });
      });
      await Promise.all([...writes, new Promise((resolve) => setTimeout(resolve, 100))]);
    }

    await eventually(async () => {
      const shown = await page
        .locator('[data-seat]')
        .evaluateAll((cells: PageElement[]) => cells.map((c) => [c.dataset.seat, c.dataset.status]));
      const wrong = shown.filter(
        ([seatId, status]) => (final.get(seatId!)?.status ?? 'available') !== status,
      );
      return wrong.length === 0 ? true : undefined;
    }, 5_000);
    const latencies = await page.evaluate(() => (window.ticketdropLatencies as () => number[])());
    latencies.sort((a, b) => a - b);
    expect(latencies.length).toBeGreaterThanOrEqual(700);
    expect(latencies[Math.floor(latencies.length * 0.99)]).toBeLessThan(1_000);
    expect(await counters(page)).toMatchObject(
      await apiSummary(eventId).then(({ available, held, sold }) => ({ available, held, sold })),
    );
    await page.close();
  });

  it('answers an unknown event with a friendly 404 page, and its change stream and snapshot with a 404 problem', async () => {
    const page = await chromium.context.newPage();
    const response = await page.goto(`${base}/events/no-such-event/dashboard`);
    expect(response?.status()).toBe(404);
    expect(await page.locator('h1').textContent()).toBe('Event not found');
    expect(await page.locator('main').textContent()).toContain('There is no event no-such-event.');

    const hostile = await page.goto(
      `${base}/events/${encodeURIComponent('<script>window.__pwned=1</script>')}/dashboard`,
    );
    expect(hostile?.status()).toBe(404);
    expect(await page.locator('main strong').textContent()).toBe('<script>window.__pwned=1</script>');
    expect(await page.evaluate(() => '__pwned' in window)).toBe(false);
    await page.close();

    for (const url of ['/events/no-such-event/changes', '/events/no-such-event/dashboard/snapshot']) {
      const answer = await stack.app.inject({ url });
      expect(answer.statusCode).toBe(404);
      expect(answer.headers['content-type']).toContain('application/problem+json');
      expect(answer.json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }
    const bad = await stack.app.inject({ url: '/events/Not_Valid!/changes' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION' });
  });
});
