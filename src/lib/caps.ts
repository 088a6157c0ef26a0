/**
 * Caps on long-lived requests (change streams, long-polls): how many one client may hold open and how
 * many the process holds in total. Each held request costs a socket and timers for its whole life, so a
 * flood of them from one client (or from everyone) must be refused before it starves the rest.
 */
export interface CapLimits {
  total: number;
  perClient: number;
}

export class ConcurrencyCaps {
  private readonly byClient = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: CapLimits) {}

  /** A release function when there is room for one more of `client`'s; undefined at a cap. */
  acquire(client: string): (() => void) | undefined {
    const mine = this.byClient.get(client) ?? 0;
    if (this.total >= this.limits.total || mine >= this.limits.perClient) return undefined;
    this.total += 1;
    this.byClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.byClient.get(client) ?? 1) - 1;
      if (left > 0) this.byClient.set(client, left);
      else this.byClient.delete(client);
    };
  }

  get open(): number {
    return this.total;
  }
}
