/**
 * Who a step talks to, for the sequence diagrams: seat claims go to the seat entity, charges to the
 * payment gateway, projections to the cache. Workflow ids come from the contracts.
 */
import { queueWorkflowId } from '../../src/entities/queue/contract';
import { seatWorkflowId } from '../../src/entities/seat/contract';
import type { Step, Timeline } from './history';

export const PAYMENT_GATEWAY = 'payment gateway';
export const TICKET_STORE = 'ticket store';
export const CACHE = 'Redis cache';
export const NOTIFIER = 'email + SMS';
export const CLIENT = 'client';
export const WORKER = 'worker';

const SEAT_ACTIVITIES = new Set(['reserveSeat', 'confirmSeat', 'releaseSeat']);
const PAYMENT_ACTIVITIES = new Set(['chargePayment', 'refundPayment']);
const TICKET_ACTIVITIES = new Set(['issueTicket', 'voidTicket']);

interface Input {
  eventId?: string;
  seatId?: string;
}

/** The seat a purchase claimed: the one it asked for, else the one its hold answered with. */
export function seatOf(timeline: Timeline): string | undefined {
  const input = (timeline.input ?? {}) as Input;
  if (!input.eventId) return undefined;
  const held = timeline.steps.find((s) => s.name === 'reserveSeat' && s.value)?.value as Input | undefined;
  const seatId = input.seatId ?? held?.seatId;
  return seatId ? seatWorkflowId(input.eventId, seatId) : undefined;
}

/**
 * The seat a seat step went to, when the step itself tells: its input (an activity's), its answer, or the
 * seat its refusal names.
 */
function seatOfStep(step: Step, timeline: Timeline): string | undefined {
  const { eventId } = (timeline.input ?? {}) as Input;
  if (!eventId) return undefined;
  const answered = (step.input as Input | undefined)?.seatId ?? (step.value as Input | undefined)?.seatId;
  // A best-available purchase tries several seats; each refusal names its seat ("seat A23 is sold").
  const refused = step.error?.message.match(/^seat ([A-Z]+\d+) /)?.[1];
  const seatId = answered ?? refused;
  return seatId ? seatWorkflowId(eventId, seatId) : undefined;
}

/** The participant on the other side of a step, or undefined for steps the workflow does alone (timers). */
export function peerOf(step: Step, timeline: Timeline): string | undefined {
  const input = (timeline.input ?? {}) as Input;
  switch (step.kind) {
    case 'timer':
    case 'workflow-task':
      return undefined;
    case 'child':
    case 'signal-out':
      return step.peer ?? WORKER;
    case 'signal':
    case 'update':
      return step.peer ?? CLIENT;
    default:
      break;
  }
  if (SEAT_ACTIVITIES.has(step.name)) return seatOfStep(step, timeline) ?? seatOf(timeline) ?? 'seat entity';
  if (PAYMENT_ACTIVITIES.has(step.name)) return PAYMENT_GATEWAY;
  if (TICKET_ACTIVITIES.has(step.name)) return TICKET_STORE;
  if (step.name.startsWith('project') || step.name === 'pickSeats') return CACHE;
  if (step.name === 'tellQueue' && input.eventId) return queueWorkflowId(input.eventId);
  if (step.name === 'sendNotification') return NOTIFIER;
  return WORKER;
}

/** Participants in a fixed order: workflows as given, then entities, then services, then anyone else. */
export function orderParticipants(workflows: string[], others: Iterable<string>): string[] {
  const rank = (name: string): number => {
    if (name.startsWith('seat-')) return 1;
    if (name.startsWith('queue-') || name.startsWith('event-')) return 2;
    const services = [PAYMENT_GATEWAY, TICKET_STORE, CACHE, NOTIFIER, WORKER, CLIENT];
    if (services.includes(name)) return 3 + services.indexOf(name);
    return 10;
  };
  const rest = [...new Set(others)].filter((name) => !workflows.includes(name));
  rest.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return [...workflows, ...rest];
}
