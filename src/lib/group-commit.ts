/**
 * Group commit: callers submit one item each and get their own result, while the items travel in
 * batches. While a batch is in flight the next one accumulates; it leaves as soon as the flight lands,
 * when it reaches `maxBatch`, or `lingerMs` after its first item when nothing is in flight.
 */
export interface GroupCommitOptions {
  maxBatch: number;
  lingerMs: number;
  /** Called after each batch commits (or fails), e.g. to record batch sizes. */
  onBatch?: (size: number, elapsedMs: number, failed: boolean) => void;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<I, O> {
  private pending: Pending<I, O>[] = [];
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly commit: (items: I[]) => Promise<O[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.inFlight) return; // leaves when the flight lands
      if (this.pending.length >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    });
  }

  /** Resolves once nothing is pending or in flight. */
  async drain(): Promise<void> {
    while (this.inFlight || this.pending.length > 0) {
      if (!this.inFlight) this.flush();
      await this.inFlight;
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.options.maxBatch);
    const started = Date.now();
    this.inFlight = this.commit(batch.map((p) => p.item)).then(
      (results) => {
        this.options.onBatch?.(batch.length, Date.now() - started, false);
        batch.forEach((p, i) => p.resolve(results[i]));
      },
      (err: unknown) => {
        this.options.onBatch?.(batch.length, Date.now() - started, true);
        batch.forEach((p) => p.reject(err));
      },
    );
    void this.inFlight.finally(() => {
      this.inFlight = undefined;
      this.flush();
    });
  }
}
