/** Simulated email and SMS senders with latency, failure rates and an outage switch. */
import { setTimeout as sleep } from 'node:timers/promises';
import { pick, type Knobs } from './knobs';
import type { NotificationRecord, ProviderStore } from './store';

export class ProviderOutage extends Error {
  override name = 'ProviderOutage';
}

export type Channel = NotificationRecord['channel'];

export class Notifier {
  constructor(
    private readonly store: ProviderStore,
    private readonly knobs: Knobs,
  ) {}

  async send(channel: Channel, purchaseId: string, recipient: string): Promise<void> {
    const knobs = this.knobs.current();
    const [latency, failureRate, outage] =
      channel === 'email'
        ? [knobs.emailLatencyMs, knobs.emailFailureRate, knobs.emailOutage]
        : [knobs.smsLatencyMs, knobs.smsFailureRate, knobs.smsOutage];
    await sleep(pick(latency));
    if (outage) throw new ProviderOutage(`${channel} provider outage`);
    if (Math.random() < failureRate) throw new ProviderOutage(`${channel} provider error`);
    this.store.recordNotification({ channel, purchaseId, recipient, sentAt: Date.now() });
  }
}
