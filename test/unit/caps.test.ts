import { ConcurrencyCaps } from '../../src/lib/caps';

describe('caps on long-lived requests', () => {
  it('refuses a client past its own cap while others still get room, and frees a slot on release', () => {
    const caps = new ConcurrencyCaps({ total: 3, perClient: 2 });
    const a1 = caps.acquire('a');
    const a2 = caps.acquire('a');
    expect(a1 && a2).toBeTruthy();
    expect(caps.acquire('a')).toBeUndefined();
    expect(caps.acquire('b')).toBeDefined();
    // The total is reached: nobody gets in, whoever asks.
    expect(caps.acquire('c')).toBeUndefined();
    a1!();
    a1!(); // releasing twice frees one slot, not two
    expect(caps.open).toBe(2);
    expect(caps.acquire('a')).toBeDefined();
    expect(caps.acquire('c')).toBeUndefined();
  });
});
