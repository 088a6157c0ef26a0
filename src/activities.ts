/** Every activity the worker registers, built from injected clients. */
import type { Client } from '@temporalio/client';
import type { SeatCache } from './cache/seat-cache';
import { createEventActivities } from './entities/event/activities';
import { createSeatActivities } from './entities/seat/activities';

export interface ActivityDeps {
  client: Client;
  cache: SeatCache;
  taskQueue: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSeatActivities(deps),
    ...createEventActivities(deps),
  };
}
