/**
 * The event entity's contract. `event-<eventId>` is the durable record of an event's definition: it
 * starts the seat entities when the event is created and closes them when the event is closed.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { MAX_WAITING_ROOM_FANS } from '../queue/contract';

export const EVENT_WORKFLOW_TYPE = 'eventEntity';

export type Admission = 'queue' | 'direct';
export type EventStatus = 'scheduled' | 'on-sale' | 'sold-out' | 'closed';

export const eventWorkflowId = (eventId: string): string => `event-${eventId}`;

export const EVENT_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
export const MAX_EVENT_CAPACITY = 10_000;

/** A normalized event definition: every default applied, so two equal requests compare equal. */
export interface EventDefinition {
  eventId: string;
  name: string;
  rows: number;
  seatsPerRow: number;
  priceCents: number;
  holdTtlSeconds: number;
  admission: Admission;
  maxActivePurchases: number;
  /** How long an admission from the waiting room lasts (queue events). */
  admissionTtlSeconds: number;
  /** ISO-8601; absent means on sale as soon as the event exists. */
  onSaleAt?: string;
  /** Queue events: most fans the waiting room takes (absent: MAX_WAITING_ROOM_FANS). */
  waitingRoomCapacity?: number;
}

export { MAX_WAITING_ROOM_FANS };

export const EVENT_DEFAULTS = {
  holdTtlSeconds: 300,
  admission: 'queue',
  maxActivePurchases: 100,
  admissionTtlSeconds: 120,
} as const;

export interface EventLifecycle {
  /** Every seat entity exists and the read-side cache holds the seat map. */
  ready: boolean;
  closed: boolean;
}

export const capacityOf = (def: Pick<EventDefinition, 'rows' | 'seatsPerRow'>): number =>
  def.rows * def.seatsPerRow;

export function sameDefinition(a: EventDefinition, b: EventDefinition): boolean {
  const keys: (keyof EventDefinition)[] = [
    'eventId',
    'name',
    'rows',
    'seatsPerRow',
    'priceCents',
    'holdTtlSeconds',
    'admission',
    'maxActivePurchases',
    'admissionTtlSeconds',
    'onSaleAt',
  ];
  const room = (d: EventDefinition) => d.waitingRoomCapacity ?? MAX_WAITING_ROOM_FANS;
  return keys.every((key) => a[key] === b[key]) && room(a) === room(b);
}

export const eventDefinitionQuery = defineQuery<EventDefinition>('eventDefinition');
export const eventLifecycleQuery = defineQuery<EventLifecycle>('eventLifecycle');
/** Completes once every seat entity has been started (at once if they already are). */
export const awaitEventReadyUpdate = defineUpdate<EventLifecycle>('awaitEventReady');
/** Closes the event: every seat entity finishes; later holds are rejected with EVENT_CLOSED. */
export const closeEventUpdate = defineUpdate<EventLifecycle>('closeEvent');

export interface EventEntityInput {
  definition: EventDefinition;
}
