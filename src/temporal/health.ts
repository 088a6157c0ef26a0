/**
 * Whether the Temporal server answers, as the API's own probe sees it. While it does not, every call the
 * API's client makes is refused at once (`TemporalUnavailableError`, answered `503 UNAVAILABLE` with
 * `Retry-After`) instead of waiting out its deadline against a server that is gone; the probe keeps asking,
 * and the first answer opens the way again. No human needed either way.
 */
import { ServiceError, type Connection, type WorkflowClientInterceptor } from '@temporalio/client';

export interface TemporalHealthOptions {
  /** How often the probe asks (its own cheap call: GetSystemInfo, served by the frontend alone). */
  intervalMs?: number;
  /** How long one probe waits for its answer. */
  timeoutMs?: number;
  /** Failed probes in a row before the server counts as down (a busy server answers slowly, not never). */
  failuresToTrip?: number;
}

/** The API's client refused a call because the Temporal server does not answer. */
export class TemporalUnavailableError extends ServiceError {
  constructor(readonly downSinceMs: number) {
    super(`the Temporal server has not answered since ${new Date(downSinceMs).toISOString()}`);
  }
}

export class TemporalHealth {
  private failures = 0;
  private downSince: number | undefined;
  /** When the first of the failed probes in a row asked. */
  private failingSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  /** Rejects when the server goes down: what the calls in flight race against. */
  private down: Promise<never> | undefined;
  private tripped: ((err: Error) => void) | undefined;
  private readonly running = new Set<Promise<unknown>>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly failuresToTrip: number;

  constructor(
    private readonly connection: Connection,
    options: TemporalHealthOptions = {},
    private readonly onChange?: (available: boolean) => void,
  ) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.failuresToTrip = options.failuresToTrip ?? 2;
  }

  get available(): boolean {
    return this.downSince === undefined;
  }

  /** Probes from now on (the timer never keeps the process alive). */
  start(): this {
    this.timer ??= setInterval(() => void this.probe(), this.intervalMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One probe; exported for tests and for a caller that wants an answer now. */
  async probe(): Promise<boolean> {
    if (this.probing) return this.available;
    this.probing = true;
    const asked = Date.now();
    try {
      await this.connection.withDeadline(Date.now() + this.timeoutMs, () =>
        this.connection.workflowService.getSystemInfo({}),
      );
      this.failures = 0;
      if (this.downSince !== undefined) {
        this.downSince = undefined;
        this.onChange?.(true);
      }
    } catch {
      this.failures += 1;
      if (this.failures === 1) this.failingSince = asked;
      if (this.failures >= this.failuresToTrip && this.downSince === undefined) {
        this.downSince = this.failingSince ?? asked;
        this.tripped?.(new TemporalUnavailableError(this.downSince));
        this.down = undefined;
        this.tripped = undefined;
        this.onChange?.(false);
      }
    } finally {
      this.probing = false;
    }
    return this.available;
  }

  /** Throws at once while the server is down. */
  check(): void {
    if (this.downSince !== undefined) throw new TemporalUnavailableError(this.downSince);
  }

  /**
   * A call the API started before the server went: it would wait out its deadline (the client retries a
   * gone server until then). It is answered, refused, as soon as the probe finds the server down; the call
   * itself runs on to its end (every call the API makes is safe to send again: workflow ids, update ids).
   */
  guard<T>(call: () => Promise<T>): Promise<T> {
    this.check();
    if (!this.down) {
      this.down = new Promise<never>((_, reject) => (this.tripped = reject));
      this.down.catch(() => undefined); // a trip with no call in flight is no error
    }
    const running = call();
    this.running.add(running);
    const forget = () => this.running.delete(running);
    running.then(forget, forget);
    return Promise.race([running, this.down]);
  }

  /**
   * Waits (at most `maxMs`) for the calls still running after their callers were answered: the client
   * must not be closed under them (a retry of a closed client's call throws where nobody catches it).
   */
  async settled(maxMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((resolve) => (timer = setTimeout(resolve, maxMs)));
    await Promise.race([Promise.allSettled([...this.running]), deadline]);
    clearTimeout(timer);
  }

  /** A client interceptor that refuses every workflow call at once while the server is down. */
  interceptor(): WorkflowClientInterceptor {
    return {
      start: (input, next) => this.guard(() => next(input)),
      startWithDetails: (input, next) => this.guard(() => next(input)),
      startUpdate: (input, next) => this.guard(() => next(input)),
      startUpdateWithStart: (input, next) => this.guard(() => next(input)),
      signal: (input, next) => this.guard(() => next(input)),
      signalWithStart: (input, next) => this.guard(() => next(input)),
      query: (input, next) => this.guard(() => next(input)),
      terminate: (input, next) => this.guard(() => next(input)),
      cancel: (input, next) => this.guard(() => next(input)),
      describe: (input, next) => this.guard(() => next(input)),
    };
  }
}
