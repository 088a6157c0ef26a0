/**
 * A simulated payment gateway with a durable ledger. Charges are idempotent by key: a retry, a replay or
 * a second worker never charges twice. Test tokens (`tok_ok`, `tok_declined`, `tok_timeout`,
 * `tok_flaky`) and the fault knobs decide each outcome.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pick, type Knobs } from './knobs';
import type { ChargeRecord, ProviderStore } from './store';

/** The gateway's test tokens: what a purchase may pay with. */
export const PAYMENT_TOKENS = ['tok_ok', 'tok_declined', 'tok_timeout', 'tok_flaky'] as const;
export type PaymentToken = (typeof PAYMENT_TOKENS)[number];

export class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}
/** A transient gateway error: safe to retry with the same idempotency key. */
export class GatewayUnavailable extends Error {
  override name = 'GatewayUnavailable';
}

export interface ChargeRequest {
  idempotencyKey: string;
  token: PaymentToken;
  amountCents: number;
  purchaseId: string;
  /** The merchant's reference for the sale's event, kept on the charge. */
  eventId: string;
  fanId: string;
  /** 1 for the first try of this key; `tok_flaky` fails the first try only. */
  attempt: number;
  signal?: AbortSignal;
}

export class PaymentGateway {
  constructor(
    private readonly store: ProviderStore,
    private readonly knobs: Knobs,
  ) {}

  async charge(request: ChargeRequest): Promise<ChargeRecord> {
    const prior = this.store.getCharge(request.idempotencyKey);
    if (prior) return settled(prior);
    const knobs = this.knobs.current();
    await this.wait(pick(knobs.paymentLatencyMs), request.signal);
    if (knobs.paymentOutage) throw new GatewayUnavailable('payment gateway unavailable (provider outage)');
    if (request.token === 'tok_timeout' || Math.random() < knobs.paymentTimeoutRate) {
      await this.wait(60 * 60 * 1000, request.signal); // hangs until the caller gives up
    }
    if (request.token === 'tok_flaky' && request.attempt === 1) {
      throw new GatewayUnavailable('gateway error on first attempt (tok_flaky)');
    }
    const declined = request.token === 'tok_declined' || Math.random() < knobs.paymentDeclineRate;
    const record = this.store.recordCharge({
      idempotencyKey: request.idempotencyKey,
      chargeId: `ch_${createHash('sha256').update(request.idempotencyKey).digest('hex').slice(0, 20)}`,
      purchaseId: request.purchaseId,
      eventId: request.eventId,
      fanId: request.fanId,
      amountCents: request.amountCents,
      status: declined ? 'declined' : 'captured',
      createdAt: Date.now(),
    });
    return settled(record);
  }

  /** Waits; a caller that gives up (abort) gets its own reason back, and nothing is recorded. */
  private async wait(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch (err) {
      throw signal?.aborted ? signal.reason : err;
    }
  }

  /** Refunds the charge made with this key, if there is a captured one. */
  async refund(idempotencyKey: string): Promise<ChargeRecord | undefined> {
    if (this.knobs.current().paymentOutage) {
      throw new GatewayUnavailable('payment gateway unavailable (provider outage): refund not made');
    }
    return this.store.refund(idempotencyKey);
  }
}

function settled(record: ChargeRecord): ChargeRecord {
  if (record.status === 'declined') throw new PaymentDeclined(`card declined (charge ${record.chargeId})`);
  return record;
}
