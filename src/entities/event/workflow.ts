/**
 * The event entity: the durable record of an event's definition. It provisions the seat entities (and
 * a queue event's waiting room), answers for the definition (so Redis is never the only copy), and
 * closes them on request.
 */
import { allHandlersFinished, condition, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { EventActivities } from './activities';
import {
  awaitEventReadyUpdate,
  closeEventUpdate,
  eventDefinitionQuery,
  eventLifecycleQuery,
  type EventEntityInput,
  type EventLifecycle,
} from './contract';

const { provisionSeats, provisionQueue, closeSeats } = proxyActivities<EventActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

export async function eventEntity({ definition }: EventEntityInput): Promise<EventLifecycle> {
  const lifecycle: EventLifecycle = { ready: false, closed: false };
  let closeRequested = false;

  setHandler(eventDefinitionQuery, () => definition);
  setHandler(eventLifecycleQuery, () => ({ ...lifecycle }));
  setHandler(awaitEventReadyUpdate, async () => {
    await condition(() => lifecycle.ready);
    return { ...lifecycle };
  });
  setHandler(closeEventUpdate, async () => {
    closeRequested = true;
    await condition(() => lifecycle.closed);
    return { ...lifecycle };
  });

  await provisionSeats(definition);
  if (definition.admission === 'queue' && patched('waiting-room')) await provisionQueue(definition);
  lifecycle.ready = true;

  await condition(() => closeRequested);
  await closeSeats(definition);
  lifecycle.closed = true;
  await condition(allHandlersFinished);
  return { ...lifecycle };
}
