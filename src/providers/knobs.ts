/**
 * Knobs of the simulated providers (latency, failure rates, outages): what a rehearsal or a test sets to
 * make the payment gateway or the notifiers misbehave. Defaults come from the environment; a test or an
 * operator can override them at run time (stored with the providers, so every worker process sees the
 * change).
 */
import { Type } from '@sinclair/typebox';
import { EnvVar, readEnv, type Env } from '../lib/env';
import { SharedSetting, type ProviderStore } from './store';

const KnobsEnv = Type.Object({
  TICKETDROP_PAYMENT_LATENCY_MS: EnvVar.msRange('20-80'),
  TICKETDROP_PAYMENT_DECLINE_RATE: EnvVar.rate(),
  TICKETDROP_PAYMENT_TIMEOUT_RATE: EnvVar.rate(),
  /** The gateway refuses every charge and refund (a provider outage). */
  TICKETDROP_PAYMENT_OUTAGE: EnvVar.flag(),
  TICKETDROP_EMAIL_LATENCY_MS: EnvVar.msRange('10-40'),
  TICKETDROP_SMS_LATENCY_MS: EnvVar.msRange('10-40'),
  TICKETDROP_EMAIL_FAILURE_RATE: EnvVar.rate(),
  TICKETDROP_SMS_FAILURE_RATE: EnvVar.rate(),
  TICKETDROP_EMAIL_OUTAGE: EnvVar.flag(),
  TICKETDROP_SMS_OUTAGE: EnvVar.flag(),
});

export function knobsFromEnv(env: Env = process.env) {
  const e = readEnv(KnobsEnv, env);
  return {
    paymentLatencyMs: e.TICKETDROP_PAYMENT_LATENCY_MS,
    paymentDeclineRate: e.TICKETDROP_PAYMENT_DECLINE_RATE,
    paymentTimeoutRate: e.TICKETDROP_PAYMENT_TIMEOUT_RATE,
    paymentOutage: e.TICKETDROP_PAYMENT_OUTAGE,
    emailLatencyMs: e.TICKETDROP_EMAIL_LATENCY_MS,
    smsLatencyMs: e.TICKETDROP_SMS_LATENCY_MS,
    emailFailureRate: e.TICKETDROP_EMAIL_FAILURE_RATE,
    smsFailureRate: e.TICKETDROP_SMS_FAILURE_RATE,
    emailOutage: e.TICKETDROP_EMAIL_OUTAGE,
    smsOutage: e.TICKETDROP_SMS_OUTAGE,
  };
}

export type SimulatorKnobs = ReturnType<typeof knobsFromEnv>;

const SETTING = 'simulator-knobs';
export class Knobs extends SharedSetting<SimulatorKnobs> {
  constructor(store: ProviderStore, defaults: SimulatorKnobs = knobsFromEnv()) {
    super(store, SETTING, defaults);
  }
}

export function pick([min, max]: [number, number]): number {
  return min + Math.random() * (max - min);
}
