import type { QueueCache } from '../../cache/queue-cache';
import type { QueueView } from './contract';

export interface QueueActivityDeps {
  queueCache: QueueCache;
}

/** Activities the queue entity runs (as local activities: short, idempotent, no history of their own). */
export function createQueueActivities({ queueCache }: QueueActivityDeps) {
  return {
    /** Publishes the queue's view and its new admission ranges; stale versions are ignored by the cache. */
    async projectQueue(view: QueueView): Promise<void> {
      await queueCache.project(view);
    },
  };
}

export type QueueActivities = ReturnType<typeof createQueueActivities>;
