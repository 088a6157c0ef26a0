/**
 * Fault knobs of the simulated providers. Defaults come from the environment; a test or an operator can
 * override them at run time (stored with the providers, so every worker process sees the change).
 */
import type { ProviderStore } from './store';

export interface SimulatorKnobs {
  paymentLatencyMs: [number, number];
  paymentDeclineRate: number;
  paymentTimeoutRate: number;
  /** The gateway refuses every charge and refund (a provider outage). */
  paymentOutage: boolean;
  /**
   * Fault injection: the first attempt of every seat hold loses the seat entity's answer after the hold
   * was applied (as a timed-out call would), so the retry must find the same hold.
   */
  seatAnswerLoss: boolean;
  /**
   * Fault injection, for this process only (its environment; never stored, so it cannot reach another
   * worker): the worker kills itself (SIGKILL) right after a seat hold was applied, before the purchase's
   * workflow task that made it completes.
   */
  crashAfterHold: boolean;
  emailLatencyMs: [number, number];
  smsLatencyMs: [number, number];
  emailFailureRate: number;
  smsFailureRate: number;
  emailOutage: boolean;
  smsOutage: boolean;
}

type Env = Record<string, string | undefined>;

function range(env: Env, key: string, fallback: [number, number]): [number, number] {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const [min, max = min] = raw.split('-').map(Number);
  if (!Number.isFinite(min) || !Number.isFinite(max) || min < 0 || max < min) {
    throw new Error(`${key} must look like "50-200" (milliseconds), got "${raw}"`);
  }
  return [min, max];
}

function rate(env: Env, key: string): number {
  const raw = env[key]?.trim();
  if (!raw) return 0;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw new Error(`${key} must be a rate from 0 to 1, got "${raw}"`);
  return value;
}

const flag = (env: Env, key: string): boolean =>
  ['1', 'true', 'yes', 'on'].includes(env[key]?.trim().toLowerCase() ?? '');

export function knobsFromEnv(env: Env = process.env): SimulatorKnobs {
  return {
    paymentLatencyMs: range(env, 'TICKETDROP_PAYMENT_LATENCY_MS', [20, 80]),
    paymentDeclineRate: rate(env, 'TICKETDROP_PAYMENT_DECLINE_RATE'),
    paymentTimeoutRate: rate(env, 'TICKETDROP_PAYMENT_TIMEOUT_RATE'),
    paymentOutage: flag(env, 'TICKETDROP_PAYMENT_OUTAGE'),
    seatAnswerLoss: flag(env, 'TICKETDROP_FAULT_SEAT_ANSWER_LOSS'),
    crashAfterHold: flag(env, 'TICKETDROP_FAULT_CRASH_AFTER_HOLD'),
    emailLatencyMs: range(env, 'TICKETDROP_EMAIL_LATENCY_MS', [10, 40]),
    smsLatencyMs: range(env, 'TICKETDROP_SMS_LATENCY_MS', [10, 40]),
    emailFailureRate: rate(env, 'TICKETDROP_EMAIL_FAILURE_RATE'),
    smsFailureRate: rate(env, 'TICKETDROP_SMS_FAILURE_RATE'),
    emailOutage: flag(env, 'TICKETDROP_EMAIL_OUTAGE'),
    smsOutage: flag(env, 'TICKETDROP_SMS_OUTAGE'),
  };
}

const SETTING = 'simulator-knobs';
/** How long a process keeps the knobs it read: a change reaches every worker within this time. */
export const KNOBS_REFRESH_MS = 200;

export class Knobs {
  private cached?: { at: number; value: SimulatorKnobs };

  constructor(
    private readonly store: ProviderStore,
    private readonly defaults: SimulatorKnobs = knobsFromEnv(),
  ) {}

  current(now = Date.now()): SimulatorKnobs {
    if (this.cached && now - this.cached.at < KNOBS_REFRESH_MS) return this.cached.value;
    const raw = this.store.getSetting(SETTING);
    const value = {
      ...this.defaults,
      ...(raw ? (JSON.parse(raw) as Partial<SimulatorKnobs>) : {}),
      crashAfterHold: this.defaults.crashAfterHold,
    };
    this.cached = { at: now, value };
    return value;
  }

  /** Overrides some knobs for every process sharing the store; `reset` returns to the defaults. */
  set(overrides: Partial<Omit<SimulatorKnobs, 'crashAfterHold'>>): void {
    this.store.setSetting(SETTING, JSON.stringify(overrides));
    this.cached = undefined;
  }

  reset(): void {
    this.store.setSetting(SETTING, undefined);
    this.cached = undefined;
  }
}

export function pick([min, max]: [number, number]): number {
  return min + Math.random() * (max - min);
}
