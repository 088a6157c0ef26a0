import {
  ADMISSION_GRACE_MS,
  decodePlace,
  pollAfterMs,
  saleEndsInMs,
  SALE_END_MAX_WAIT_MS,
  SALE_END_MIN_SPREAD_MS,
  SALE_END_POLLS_PER_SEC,
  shufflePosition,
  waitingPollAfterMs,
  type QueueSettings,
} from '../../src/entities/queue/contract';
import {
  CLAIM_CHECK_MS,
  fanHash,
  LIKELY_GONE_MS,
  packHashes,
  QueueState,
  unpackHashes,
} from '../../src/entities/queue/state';

const T0 = 1_700_000_000_000;
const settings = (overrides: Partial<QueueSettings> = {}): QueueSettings => ({
  eventId: 'ev',
  capacity: 10,
  maxActivePurchases: 3,
  admissionTtlMs: 60_000,
  ...overrides,
});
const key = { key: (): [number, number] => [12345, 67890], now: T0 };
const seed = () => 0x5eed;
const fans = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `fan-${from + i}`);

describe('pre-queue shuffle', () => {
  it.each([1, 2, 3, 7, 100, 1_000, 4_097])('is a bijection on [0, %i) for any seed', (size) => {
    for (const s of [0, 1, 0xdeadbeef, 42]) {
      const seen = new Set<number>();
      for (let i = 0; i < size; i++) {
        const p = shufflePosition(i, size, s);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(size);
        seen.add(p);
      }
      expect(seen.size).toBe(size);
    }
  });

  it('depends on the seed, so nobody can predict the order before opening', () => {
    const order = (s: number) => Array.from({ length: 50 }, (_, i) => shufflePosition(i, 50, s));
    expect(order(1)).not.toEqual(order(2));
    expect(order(1)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('fan hashes', () => {
  it('pack into 8 bytes each and back', () => {
    const hashes = fans(1, 100).map((f) => fanHash(f, key.key()));
    expect(new Set(hashes).size).toBe(100);
    const packed = packHashes(hashes);
    expect(packed.byteLength).toBe(800);
    expect(unpackHashes(packed)).toEqual(hashes);
  });

  it('depend on the queue key', () => {
    expect(fanHash('fan-1', [1, 2])).not.toBe(fanHash('fan-1', [1, 3]));
  });
});

describe('queue state', () => {
  it('places fans contiguously in arrival order; a fan joining again keeps its place', () => {
    const queue = new QueueState(settings({ maxActivePurchases: 1 }), undefined, key);
    const first = queue.join(['a', 'b', 'c'], T0, seed);
    expect(first).toEqual({ places: [1, 2, 3], known: [] });
    const second = queue.join(['d', 'b', 'd', 'e'], T0 + 1, seed);
    expect(second).toEqual({ places: [4, 2, 4, 5], known: [1, 2] });
    expect(queue.joined).toBe(5);
  });

  it('admits in position order up to maxActivePurchases, and the next fan when a purchase ends', () => {
    const queue = new QueueState(settings(), undefined, key);
    queue.join(fans(1, 10), T0, seed);
    expect(queue.view().admittedThrough).toBe(3);
    expect(queue.takeNewRanges()).toEqual([{ from: 1, to: 3, expiresAt: T0 + 60_000 }]);
    queue.admissionUsed({ position: 2, fanId: 'fan-2' }, T0 + 5);
    queue.purchaseFinished({ position: 2, fanId: 'fan-2', outcome: 'failed' }, T0 + 10);
    expect(queue.view()).toMatchObject({ admittedThrough: 4, active: 3, sold: 0 });
    expect(queue.takeNewRanges()).toEqual([{ from: 4, to: 4, expiresAt: T0 + 10 + 60_000 }]);
    expect(queue.view().peakActive).toBe(3);
    expect(queue.admissionLog().log).toEqual([
      [1, 3, T0],
      [4, 4, T0 + 10],
    ]);
  });

  it('claims admissions: only a live one, once per fan, the same answer again; the entity alone decides', () => {
    const queue = new QueueState(settings({ maxActivePurchases: 2 }), undefined, key);
    queue.join(fans(1, 4), T0, seed);
    const version = queue.version;
    expect(queue.claimAdmissions(['fan-1', 'fan-3', 'nobody'], T0 + 5)).toEqual([
      { position: 1, expiresAt: T0 + 60_000 },
      { refused: 'NOT_ADMITTED' },
      { refused: 'NOT_ADMITTED' },
    ]);
    expect(queue.version).toBe(version + 1);
    expect(queue.view()).toMatchObject({ active: 2, purchasing: 1 });
    // Claimed again (a retried request): the same position, nothing changes.
    expect(queue.claimAdmissions(['fan-1'], T0 + 6)).toEqual([{ position: 1, expiresAt: T0 + 60_000 }]);
    expect(queue.version).toBe(version + 1);
    // fan-2's admission runs out unclaimed: refused with when it expired.
    expect(queue.claimAdmissions(['fan-2'], T0 + 60_000)).toEqual([
      { refused: 'ADMISSION_EXPIRED', position: 2, expiresAt: T0 + 60_000 },
    ]);
    // fan-1's purchase ends: its admission is spent.
    queue.purchaseFinished({ position: 1, fanId: 'fan-1', outcome: 'failed' }, T0 + 60_001);
    expect(queue.claimAdmissions(['fan-1'], T0 + 60_002)).toEqual([
      { refused: 'ADMISSION_USED', position: 1 },
    ]);
  });

  it('gives back the slot of a claim whose purchase never started, once looked for; keeps a started one', () => {
    const queue = new QueueState(
      settings({ maxActivePurchases: 2, admissionTtlMs: 600_000, checkClaims: true }),
      undefined,
      key,
    );
    queue.join(fans(1, 4), T0, seed);
    // The API claims for fan-1 and fan-2, then (for fan-1) dies before starting the purchase.
    queue.claimAdmissions(['fan-1', 'fan-2'], T0 + 5);
    expect(queue.view()).toMatchObject({ purchasing: 2, admittedThrough: 2 });
    expect(queue.claimsToCheck(T0 + 5 + CLAIM_CHECK_MS - 1)).toEqual([]);
    // The entity wakes to look for them.
    expect(queue.nextWake(T0 + 5)).toBe(T0 + 5 + CLAIM_CHECK_MS);
    const due = queue.claimsToCheck(T0 + 5 + CLAIM_CHECK_MS);
    expect(due).toEqual([
      { position: 1, fanId: 'fan-1' },
      { position: 2, fanId: 'fan-2' },
    ]);
    queue.claimsChecked(
      [
        { position: 1, started: false },
        { position: 2, started: true },
      ],
      T0 + 5 + CLAIM_CHECK_MS,
    );
    // fan-1's slot went to the next fan; fan-2's purchase is still buying and is not looked for again.
    expect(queue.view()).toMatchObject({ purchasing: 1, admittedThrough: 3, expired: 1 });
    expect(queue.claimsToCheck(T0 + 10 * CLAIM_CHECK_MS)).toEqual([]);
    expect(queue.claimAdmissions(['fan-1'], T0 + 6 + CLAIM_CHECK_MS)).toEqual([
      { refused: 'ADMISSION_EXPIRED', position: 1 },
    ]);
    // A purchase seen to start (its admission-used message) is never looked for.
    queue.claimAdmissions(['fan-3'], T0 + 7 + CLAIM_CHECK_MS);
    queue.admissionUsed({ position: 3, fanId: 'fan-3' }, T0 + 8 + CLAIM_CHECK_MS);
    expect(queue.claimsToCheck(T0 + 10 * CLAIM_CHECK_MS)).toEqual([]);
    // Runs from before the rule never look.
    const old = new QueueState(settings({ maxActivePurchases: 2 }), undefined, key);
    old.join(fans(1, 2), T0, seed);
    old.claimAdmissions(['fan-1'], T0 + 5);
    expect(old.claimsToCheck(T0 + 10 * CLAIM_CHECK_MS)).toEqual([]);
  });

  it('refuses claims in the pre-queue, before the sale opens', () => {
    const queue = new QueueState(settings({ opensAt: T0 + 1_000 }), undefined, key);
    queue.join(['early'], T0, seed);
    expect(queue.claimAdmissions(['early'], T0 + 1)).toEqual([{ refused: 'NOT_ADMITTED' }]);
  });

  it('frees the slot of an unused admission only after its expiry plus grace', () => {
    const queue = new QueueState(settings({ maxActivePurchases: 2 }), undefined, key);
    queue.join(fans(1, 5), T0, seed);
    queue.admissionUsed({ position: 1, fanId: 'fan-1' }, T0 + 1);
    expect(queue.nextWake(T0 + 1)).toBe(T0 + LIKELY_GONE_MS);
    expect(queue.nextWake(T0 + LIKELY_GONE_MS)).toBe(T0 + 60_000 + ADMISSION_GRACE_MS);
    expect(queue.expireDue(T0 + 60_000)).toBe(0);
    expect(queue.expireDue(T0 + 60_000 + ADMISSION_GRACE_MS)).toBe(1);
    expect(queue.view()).toMatchObject({ admittedThrough: 3, expired: 1, active: 2 });
  });

  it('sells out when every seat is sold: new fans are refused, known fans keep their place', () => {
    const queue = new QueueState(settings({ capacity: 2, maxActivePurchases: 2 }), undefined, key);
    queue.join(fans(1, 4), T0, seed);
    for (const position of [1, 2]) {
      queue.admissionUsed({ position, fanId: `fan-${position}` }, T0);
      queue.purchaseFinished({ position, fanId: `fan-${position}`, outcome: 'completed' }, T0);
    }
    const view = queue.view();
    // fan-3 went in when the first sale left one seat; nobody after it
    expect(view).toMatchObject({
      closed: 'sold-out',
      sold: 2,
      admittedThrough: 3,
      soldOutAt: T0,
      openedAt: T0,
    });
    expect(queue.join(['fan-3', 'new-fan'], T0, seed)).toEqual({
      places: [3, 0],
      known: [0],
      rejected: 'SOLD_OUT',
    });
  });

  it('keeps arrivals before opening in a pre-queue, shuffled into positions 1…P at opening', () => {
    const queue = new QueueState(
      settings({ opensAt: T0 + 1_000, maxActivePurchases: 100, capacity: 100 }),
      undefined,
      key,
    );
    const early = queue.join(fans(1, 20), T0, seed);
    expect(early.places).toEqual(Array.from({ length: 20 }, (_, i) => -(i + 1)));
    expect(queue.view().admittedThrough).toBe(0);
    const late = queue.join(['late-1', 'fan-3'], T0 + 1_000, seed);
    expect(late.places[0]).toBe(21);
    const view = queue.view();
    expect(view.shuffle).toEqual({ seed: 0x5eed, size: 20 });
    const fan3 = shufflePosition(2, 20, 0x5eed) + 1;
    expect(late.places[1]).toBe(fan3);
    const positions = early.places.map((p) => shufflePosition(-p - 1, 20, 0x5eed) + 1);
    expect(new Set(positions).size).toBe(20);
    expect(Math.max(...positions)).toBe(20);
    expect(view.admittedThrough).toBe(21);
  });

  it('survives continue-as-new: same places, same dedup, same admissions', () => {
    const queue = new QueueState(settings(), undefined, key);
    queue.join(fans(1, 8), T0, seed);
    queue.admissionUsed({ position: 1, fanId: 'fan-1' }, T0);
    const { snapshot, order, prequeue } = queue.snapshot();
    const next = new QueueState(settings(), snapshot, { key: () => [0, 0], now: T0 }, order, prequeue);
    expect(next.join(['fan-5', 'fan-9'], T0 + 1, seed)).toEqual({ places: [5, 9], known: [0] });
    expect(next.view()).toMatchObject({ admittedThrough: 3, active: 3, purchasing: 1, runs: 2 });
    expect(next.nextWake(T0 + LIKELY_GONE_MS)).toBe(T0 + 60_000 + ADMISSION_GRACE_MS);
  });

  it('counts a purchase once, whatever order or number its signals arrive in', () => {
    const queue = new QueueState(settings({ capacity: 5 }), undefined, key);
    queue.join(fans(1, 5), T0, seed);
    const done = { position: 1, fanId: 'fan-1', outcome: 'completed' as const };
    queue.purchaseFinished(done, T0 + 1);
    queue.purchaseFinished(done, T0 + 2);
    queue.admissionUsed({ position: 1, fanId: 'fan-1' }, T0 + 3); // late: the purchase already ended
    queue.admissionUsed({ position: 99, fanId: 'fan-99' }, T0 + 3); // never admitted
    expect(queue.view()).toMatchObject({ sold: 1, active: 3, purchasing: 0, admittedThrough: 4 });
  });

  it('admits no more than the unsold seats plus a quarter near the end, not counting fans gone quiet', () => {
    const queue = new QueueState(settings({ capacity: 4, maxActivePurchases: 100 }), undefined, key);
    queue.join(fans(1, 20), T0, seed);
    expect(queue.view().admittedThrough).toBe(5); // ceil(4 × 1.25)
    queue.admissionUsed({ position: 1, fanId: 'fan-1' }, T0 + 1_000);
    // Fans 2-5 never start buying: 20 s after admission they stop standing for a seat.
    queue.expireDue(T0 + LIKELY_GONE_MS);
    expect(queue.view()).toMatchObject({ admittedThrough: 9, active: 9 });
  });

  it('gives the slot of a fan who walked away to the next fan, within twice the slots, in runs with the rule', () => {
    const rule = settings({ maxActivePurchases: 2, goneFansFreeSlots: true });
    const queue = new QueueState(rule, undefined, key);
    queue.join(fans(1, 10), T0, seed);
    expect(queue.view().admittedThrough).toBe(2);
    queue.admissionUsed({ position: 1, fanId: 'fan-1' }, T0 + 1);
    // Fan 2 never starts buying: 20 s on, its slot goes to fan 3 (it keeps its admission until expiry).
    queue.expireDue(T0 + LIKELY_GONE_MS);
    expect(queue.view()).toMatchObject({ admittedThrough: 3, active: 3 });
    // Fan 3 walks away too: fan 4 gets in, and then the bound of twice the slots holds.
    queue.expireDue(T0 + 2 * LIKELY_GONE_MS);
    expect(queue.view()).toMatchObject({ admittedThrough: 4, active: 4 });
    queue.expireDue(T0 + 3 * LIKELY_GONE_MS);
    expect(queue.view()).toMatchObject({ admittedThrough: 4, active: 4 });
    // A fan who came back still buys with its admission.
    expect(queue.claimAdmissions(['fan-2'], T0 + 3 * LIKELY_GONE_MS)[0]).toMatchObject({ position: 2 });
    // A run from before the rule keeps the walked-away fan's slot taken.
    const old = new QueueState(settings({ maxActivePurchases: 2 }), undefined, key);
    old.join(fans(1, 10), T0, seed);
    old.admissionUsed({ position: 1, fanId: 'fan-1' }, T0 + 1);
    old.expireDue(T0 + LIKELY_GONE_MS);
    expect(old.view()).toMatchObject({ admittedThrough: 2, active: 2 });
  });

  it('takes no new fans once the event closes', () => {
    const queue = new QueueState(settings(), undefined, key);
    queue.join(['a'], T0, seed);
    queue.close();
    expect(queue.join(['a', 'b'], T0, seed)).toEqual({
      places: [1, 0],
      known: [0],
      rejected: 'EVENT_CLOSED',
    });
  });
});

describe('contract helpers', () => {
  it('decodes places', () => {
    expect(decodePlace(7)).toEqual({ position: 7 });
    expect(decodePlace(-1)).toEqual({ prequeueIndex: 0 });
    expect(decodePlace(0)).toBeUndefined();
  });

  it('paces polls by the recent admission rate: half the expected wait, within 1-30 s', () => {
    expect(pollAfterMs(100, 10)).toBe(5_000); // 100 fans ahead at 10/s: admitted in about 10 s
    expect(pollAfterMs(5, 10)).toBe(1_000);
    expect(pollAfterMs(100_000, 10)).toBe(30_000);
  });

  it('measures the admission rate over the last 30 s', () => {
    const queue = new QueueState(settings({ capacity: 100, maxActivePurchases: 10 }), undefined, key);
    queue.join(fans(1, 50), T0, seed); // 10 admitted at T0
    for (let i = 1; i <= 10; i++) {
      queue.purchaseFinished({ position: i, fanId: `fan-${i}`, outcome: 'failed' }, T0 + 5_000); // 10 more
    }
    expect(queue.admitRate(T0 + 10_000)).toBe(2); // 20 admissions in the 10 s since opening
    expect(queue.admitRate(T0 + 60_000)).toBe(0);
  });

  describe('a poll that knows when the sale will end', () => {
    // 500 seats, 450 sold, 10 fans admitted a second, 4 of 5 purchases succeeding: 8 seats a second,
    // so the last 50 sell in about 6.25 s. 45,000 fans wait behind the 600 admitted.
    const view = {
      capacity: 500,
      sold: 450,
      admitRatePerSec: 10,
      outcomes: { completed: 400, failed: 100, cancelled: 0 },
      joined: 45_600,
      admittedThrough: 600,
    };

    it('expects the end when the unsold seats will have sold at the recent rate', () => {
      expect(saleEndsInMs(view)).toBeCloseTo(6_250);
      expect(saleEndsInMs({ ...view, closed: 'sold-out' })).toBeUndefined();
      expect(saleEndsInMs({ ...view, admitRatePerSec: 0 })).toBeUndefined();
      // Too few outcomes to trust: most purchases succeed.
      expect(saleEndsInMs({ ...view, outcomes: { completed: 1, failed: 9, cancelled: 0 } })).toBeCloseTo(
        6_250,
      );
    });

    it('has a fan far back poll at the expected end, in its slot of a spread the API can take', () => {
      const spread = (45_000 / SALE_END_POLLS_PER_SEC) * 1_000; // 15 s for 45,000 fans
      const polls = Array.from({ length: 45_000 }, (_, i) => waitingPollAfterMs(44_000, 601 + i, view));
      // Without the sale's end, each of them would wait 30 s.
      expect(pollAfterMs(44_000, 10)).toBe(30_000);
      expect(Math.min(...polls)).toBeGreaterThanOrEqual(6_250);
      expect(Math.max(...polls)).toBeLessThanOrEqual(6_250 + spread);
      // Spread evenly: no second of it gets much more than its share of the crowd.
      const perSecond = new Map<number, number>();
      for (const p of polls)
        perSecond.set(Math.floor(p / 1_000), (perSecond.get(Math.floor(p / 1_000)) ?? 0) + 1);
      expect(Math.max(...perSecond.values())).toBeLessThan(SALE_END_POLLS_PER_SEC * 1.5);
    });

    it('lets a fan that could only get in if the sale stalls sleep until its expected end, within half the admission TTL', () => {
      // Early in the sale: nothing sold, 5 admitted a second, so the 500 seats last about 125 s.
      const early = { ...view, sold: 0, admitRatePerSec: 5, admissionTtlMs: 120_000 };
      expect(saleEndsInMs(early)).toBeCloseTo(125_000);
      // 44,000 fans ahead would buy far more than the 500 seats left: one poll a minute, not two.
      expect(pollAfterMs(44_000, 5)).toBe(30_000);
      expect(waitingPollAfterMs(44_000, 45_000, early)).toBe(SALE_END_MAX_WAIT_MS);
      // Never longer than half the admission TTL, never shorter than the fan's own pace.
      expect(waitingPollAfterMs(44_000, 45_000, { ...early, admissionTtlMs: 40_000 })).toBe(30_000);
      // A view published before the TTL was in it: the fan keeps its own pace.
      expect(waitingPollAfterMs(44_000, 45_000, { ...early, admissionTtlMs: undefined })).toBe(30_000);
      // 100 fans ahead buy about 80 seats of the 500: that fan keeps its own pace.
      expect(waitingPollAfterMs(100, 700, early)).toBe(pollAfterMs(100, 5));
    });

    it('keeps a near fan on its own pace and a small crowd within the shortest spread', () => {
      expect(waitingPollAfterMs(5, 601, view)).toBe(pollAfterMs(5, 10));
      const small = { ...view, joined: 700 };
      for (let place = 601; place < 700; place++) {
        expect(waitingPollAfterMs(90, place, small)).toBeLessThanOrEqual(6_250 + SALE_END_MIN_SPREAD_MS);
      }
    });
  });

  it('asks fans further back to poll less often, within 1-30 s', () => {
    expect(pollAfterMs(0)).toBe(1_000);
    expect(pollAfterMs(100)).toBeGreaterThan(pollAfterMs(10));
    expect(pollAfterMs(1_000_000)).toBe(30_000);
  });
});
