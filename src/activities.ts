/** Every activity the worker registers, built from injected clients. */
import type { Client } from '@temporalio/client';
import type { PurchaseCache } from './cache/purchase-cache';
import type { QueueCache } from './cache/queue-cache';
import type { SeatCache } from './cache/seat-cache';
import { createEventActivities } from './entities/event/activities';
import { createQueueActivities } from './entities/queue/activities';
import { createSeatActivities } from './entities/seat/activities';
import type { Notifier } from './providers/notifier';
import type { PaymentGateway } from './providers/payments';
import type { ProviderStore } from './providers/store';
import type { WorkerMetrics } from './observe/worker-metrics';
import { createPurchaseActivities } from './sagas/purchase/activities';

export interface ActivityDeps {
  client: Client;
  seatCache: SeatCache;
  purchaseCache: PurchaseCache;
  queueCache: QueueCache;
  taskQueue: string;
  payments: PaymentGateway;
  notifier: Notifier;
  store: ProviderStore;
  signingSecret: string;
  /** The worker's counters (holds, releases); none when omitted. */
  metrics?: WorkerMetrics;
}

export function createActivities(deps: ActivityDeps) {
  const cache = deps.seatCache;
  return {
    ...createSeatActivities({ cache }),
    ...createEventActivities({ ...deps, cache }),
    ...createQueueActivities(deps),
    ...createPurchaseActivities(deps),
  };
}
