import { Context } from '@temporalio/activity';
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { QueueCache } from '../../cache/queue-cache';
import type { SeatCache } from '../../cache/seat-cache';
import { mapLimit } from '../../lib/concurrency';
import {
  closeSeatSignal,
  EVENT_ID_SEARCH_ATTRIBUTE,
  SEAT_STATUS_SEARCH_ATTRIBUTE,
  SEAT_WORKFLOW_TYPE,
  seatIds,
  seatWorkflowId,
  type SeatEntityInput,
} from '../seat/contract';
import {
  closeQueueSignal,
  MAX_WAITING_ROOM_FANS,
  QUEUE_WORKFLOW_TYPE,
  queueSnapshotQuery,
  queueWorkflowId,
  waitingRoomTaskQueue,
  type QueueEntityInput,
} from '../queue/contract';
import { capacityOf, type EventDefinition } from './contract';

export interface EventActivityDeps {
  client: Client;
  cache: SeatCache;
  queueCache: QueueCache;
  taskQueue: string;
  /** Seat workflow starts in flight at once. */
  concurrency?: number;
}

export function createEventActivities({
  client,
  cache,
  queueCache,
  taskQueue,
  concurrency = 32,
}: EventActivityDeps) {
  return {
    /**
     * Starts one seat entity per seat (idempotent: a seat that already runs is kept) and seeds the
     * read-side cache with the seat map. Safe to retry from the start.
     */
    async provisionSeats(definition: EventDefinition): Promise<number> {
      const { eventId } = definition;
      const ids = seatIds(definition.rows, definition.seatsPerRow);
      let started = 0;
      await mapLimit(ids, concurrency, async (seatId) => {
        const args: [SeatEntityInput] = [{ eventId, seatId }];
        await client.workflow.start(SEAT_WORKFLOW_TYPE, {
          workflowId: seatWorkflowId(eventId, seatId),
          taskQueue,
          args,
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          typedSearchAttributes: [
            { key: EVENT_ID_SEARCH_ATTRIBUTE, value: eventId },
            { key: SEAT_STATUS_SEARCH_ATTRIBUTE, value: 'available' },
          ],
        });
        if (++started % 50 === 0) Context.current().heartbeat(started);
      });
      await cache.projectSeats(
        eventId,
        ids.map((seatId) => ({ seatId, status: 'available', version: 0 })),
      );
      await cache.putEvent({ definition, closed: false });
      return ids.length;
    },

    /**
     * Starts the event's waiting room (idempotent: a queue that already runs is kept) and seeds the
     * cache with its first view, so polls and the place index start complete.
     */
    async provisionQueue(definition: EventDefinition): Promise<void> {
      const { eventId } = definition;
      const args: [QueueEntityInput] = [
        {
          settings: {
            eventId,
            capacity: capacityOf(definition),
            maxActivePurchases: definition.maxActivePurchases,
            admissionTtlMs: definition.admissionTtlSeconds * 1000,
            maxFans: definition.waitingRoomCapacity ?? MAX_WAITING_ROOM_FANS,
            opensAt: definition.onSaleAt ? Date.parse(definition.onSaleAt) : undefined,
          },
        },
      ];
      const handle = await client.workflow.start(QUEUE_WORKFLOW_TYPE, {
        workflowId: queueWorkflowId(eventId),
        taskQueue: waitingRoomTaskQueue(taskQueue),
        args,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        typedSearchAttributes: [{ key: EVENT_ID_SEARCH_ATTRIBUTE, value: eventId }],
      });
      await queueCache.project(await handle.query(queueSnapshotQuery));
    },

    /** Tells every seat entity (and the waiting room) that the event is closed; marks it so in the cache. */
    async closeSeats(definition: EventDefinition): Promise<void> {
      const { eventId } = definition;
      if (definition.admission === 'queue') {
        await client.workflow
          .getHandle(queueWorkflowId(eventId))
          .signal(closeQueueSignal)
          .catch((err: unknown) => {
            if (!(err instanceof WorkflowNotFoundError)) throw err; // already finished
          });
      }
      await mapLimit(seatIds(definition.rows, definition.seatsPerRow), concurrency, async (seatId) => {
        try {
          await client.workflow.getHandle(seatWorkflowId(eventId, seatId)).signal(closeSeatSignal);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err; // already finished
        }
      });
      await cache.putEvent({ definition, closed: true });
    },
  };
}

export type EventActivities = ReturnType<typeof createEventActivities>;
