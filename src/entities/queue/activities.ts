import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { QueueCache } from '../../cache/queue-cache';
import { mapLimit } from '../../lib/concurrency';
import { purchaseWorkflowId } from '../../sagas/purchase/contract';
import type { ClaimToCheck, QueueView } from './contract';

export interface QueueActivityDeps {
  client: Client;
  queueCache: QueueCache;
}

/** Claims looked up at once. */
const CLAIM_LOOKUPS_AT_ONCE = 16;

/** Activities the queue entity runs (as local activities: short, idempotent, no history of their own). */
export function createQueueActivities({ client, queueCache }: QueueActivityDeps) {
  return {
    /** Publishes the queue's view and its new admission ranges; stale versions are ignored by the cache. */
    async projectQueue(view: QueueView): Promise<void> {
      await queueCache.project(view);
    },

    /** Whether each claimed admission's purchase was started (its workflow exists, in any state). */
    async claimedPurchasesStarted(eventId: string, claims: ClaimToCheck[]): Promise<boolean[]> {
      return mapLimit(claims, CLAIM_LOOKUPS_AT_ONCE, async ({ fanId }) => {
        try {
          await client.workflow.getHandle(purchaseWorkflowId(eventId, fanId)).describe();
          return true;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        }
      });
    },
  };
}

export type QueueActivities = ReturnType<typeof createQueueActivities>;
