/**
 * `npm start`'s supervisor: every service it starts is watched, and one that exits on its own (a crash,
 * the OOM killer, a kill -9) is started again after a backoff, with a log line each way. The stack stops
 * only when asked (Ctrl-C), or when a service keeps crashing: more than `maxRestarts` exits within
 * `windowMs` means restarting will not help, and the supervisor gives up on the whole stack. A service
 * that is running but no longer answers (its liveness probe unanswered for `deadAfterMs`) is killed, and
 * so restarted the same way: the dev server can wedge with its SQLite connection failing every
 * transaction ("interrupted (9)") after a stall, and only a new process clears it. Its counters
 * (exits, restarts, which services are up) are Prometheus metrics in `registry`, which `npm start` serves.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Service } from './services';

export interface Unit<S extends Service = Service> {
  name: string;
  /** Starts the service and resolves once it is ready; called again for every restart. */
  start: () => Promise<S>;
  /** Resolves when the service does its job (for example a call that reaches its store); throws if not. */
  alive?(service: S): Promise<void>;
}

export interface SupervisorOptions {
  /** The first restart's delay; each further one within the window doubles it, up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Exits of one service within `windowMs` that are restarted; one more and the supervisor gives up. */
  maxRestarts?: number;
  windowMs?: number;
  log?: (line: string) => void;
  /** A service was started again (its new process id is in `service.child.pid`). */
  onRestart?: (name: string, service: Service) => void;
  /** A service kept crashing: the caller stops the stack. */
  onGiveUp?: (name: string, reason: string) => void;
  /** How often a unit's liveness probe runs; each probe is given as long to answer. */
  probeIntervalMs?: number;
  /** A service whose probe has not succeeded for this long is killed (and restarted). */
  deadAfterMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Supervisor {
  private readonly units: Unit[] = [];
  private readonly running = new Map<string, Service>();
  private readonly exits = new Map<string, number[]>();
  private readonly restartCount = new Map<string, number>();
  private stopping = false;
  /** ticketdrop_supervisor_{exits,restarts}_total{service} and ticketdrop_supervisor_up{service}. */
  readonly registry = new Registry();
  private readonly exitsTotal = new Counter({
    name: 'ticketdrop_supervisor_exits_total',
    help: 'Services that exited on their own (crashed, killed), by service',
    labelNames: ['service'],
    registers: [this.registry],
  });
  private readonly restartsTotal = new Counter({
    name: 'ticketdrop_supervisor_restarts_total',
    help: 'Services the supervisor started again after an exit, by service',
    labelNames: ['service'],
    registers: [this.registry],
  });
  private readonly unresponsive = new Counter({
    name: 'ticketdrop_supervisor_unresponsive_total',
    help: 'Services killed because their liveness probe went unanswered, by service',
    labelNames: ['service'],
    registers: [this.registry],
  });
  private readonly up = new Gauge({
    name: 'ticketdrop_supervisor_up',
    help: 'Whether the service is running (1) or down, waiting to be started again (0)',
    labelNames: ['service'],
    registers: [this.registry],
  });
  private readonly opts: Required<Omit<SupervisorOptions, 'onRestart' | 'onGiveUp'>> &
    Pick<SupervisorOptions, 'onRestart' | 'onGiveUp'>;

  constructor(options: SupervisorOptions = {}) {
    this.opts = {
      initialBackoffMs: 500,
      maxBackoffMs: 10_000,
      maxRestarts: 5,
      windowMs: 60_000,
      probeIntervalMs: 5_000,
      deadAfterMs: 30_000,
      log: (line) => console.log(line),
      ...options,
    };
  }

  /** Starts a unit (a failed first start throws: nothing to restart yet) and watches it from then on. */
  async add<S extends Service>(unit: Unit<S>): Promise<S> {
    const service = await unit.start();
    this.units.push(unit);
    this.running.set(unit.name, service);
    this.up.set({ service: unit.name }, 1);
    this.restartsTotal.inc({ service: unit.name }, 0);
    this.exitsTotal.inc({ service: unit.name }, 0);
    this.unresponsive.inc({ service: unit.name }, 0);
    this.watch(unit, service);
    return service;
  }

  /** The unit's current process (the latest restart's). */
  service(name: string): Service | undefined {
    return this.running.get(name);
  }

  /** Times each unit was started again. */
  restarts(): Record<string, number> {
    return Object.fromEntries(this.units.map((u) => [u.name, this.restartCount.get(u.name) ?? 0]));
  }

  /** Process ids by unit name, of the current processes. */
  pids(): Record<string, number> {
    return Object.fromEntries(
      [...this.running].flatMap(([name, s]) =>
        [s.child, ...(s.others ?? [])].flatMap((child, i) =>
          child.pid ? [[i === 0 ? name : `${name}-${i + 1}`, child.pid]] : [],
        ),
      ),
    );
  }

  /** Kills every unit's process at once (SIGKILL), for a stop that cannot wait; nothing is restarted. */
  kill(): void {
    this.stopping = true;
    for (const service of this.running.values()) service.child.kill('SIGKILL');
  }

  /** Stops every unit, newest first; nothing is restarted from now on. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const unit of [...this.units].reverse()) await this.running.get(unit.name)?.stop();
  }

  private watch(unit: Unit, service: Service): void {
    const probing = unit.alive && this.probe(unit, service, unit.alive);
    void service.exited.then((code) => {
      if (probing) clearInterval(probing);
      if (this.stopping) return;
      const how = service.child.signalCode ? `signal ${service.child.signalCode}` : `code ${code}`;
      this.exitsTotal.inc({ service: unit.name });
      this.up.set({ service: unit.name }, 0);
      void this.restart(unit, `exited unexpectedly (${how})`);
    });
  }

  /** Probes the service every interval; one unanswered for `deadAfterMs` is killed (its exit restarts it). */
  private probe(unit: Unit, service: Service, alive: NonNullable<Unit['alive']>): NodeJS.Timeout {
    const { probeIntervalMs, deadAfterMs } = this.opts;
    let answeredAt = Date.now();
    let inFlight = false;
    let lastError = '';
    const timer = setInterval(() => {
      if (inFlight || this.stopping) return;
      inFlight = true;
      let timeout: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timeout = setTimeout(() => reject(new Error(`no answer in ${probeIntervalMs} ms`)), probeIntervalMs);
      });
      Promise.race([alive(service), late])
        .then(() => (answeredAt = Date.now()))
        .catch((err: unknown) => {
          lastError = (err as Error).message;
          if (Date.now() - answeredAt < deadAfterMs || this.stopping) return;
          clearInterval(timer);
          this.unresponsive.inc({ service: unit.name });
          this.opts.log(
            `supervisor: ${unit.name} has not answered its liveness probe for ${Math.round((Date.now() - answeredAt) / 1000)} s (${lastError}); killing it`,
          );
          service.child.kill('SIGKILL');
        })
        .finally(() => {
          clearTimeout(timeout);
          inFlight = false;
        });
    }, probeIntervalMs);
    return timer.unref();
  }

  private async restart(unit: Unit, why: string): Promise<void> {
    const { name } = unit;
    const now = Date.now();
    const recent = (this.exits.get(name) ?? []).filter((t) => now - t < this.opts.windowMs);
    recent.push(now);
    this.exits.set(name, recent);
    if (recent.length > this.opts.maxRestarts) {
      const reason = `${name} ${why}: ${recent.length} exits within ${this.opts.windowMs / 1000} s, not restarting it again`;
      this.opts.log(`supervisor: ${reason}`);
      this.opts.onGiveUp?.(name, reason);
      return;
    }
    const delay = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** (recent.length - 1));
    this.opts.log(
      `supervisor: ${name} ${why}; restarting it in ${delay} ms (exit ${recent.length} within the window)`,
    );
    await sleep(delay);
    if (this.stopping) return;
    let service: Service;
    try {
      service = await unit.start();
    } catch (err) {
      if (!this.stopping) void this.restart(unit, `failed to start again (${(err as Error).message})`);
      return;
    }
    if (this.stopping) {
      await service.stop();
      return;
    }
    this.running.set(name, service);
    this.restartCount.set(name, (this.restartCount.get(name) ?? 0) + 1);
    this.restartsTotal.inc({ service: name });
    this.up.set({ service: name }, 1);
    this.opts.log(`supervisor: ${name} is back (pid ${service.child.pid})`);
    this.opts.onRestart?.(name, service);
    this.watch(unit, service);
  }
}
