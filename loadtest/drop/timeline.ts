/**
 * Where a drop's purchases spent their time, read from their histories: waiting for a worker to take a
 * workflow task, inside a task (workflow code and the local activities it waits for: seat claims,
 * projections, messages to the waiting room), waiting for an activity to start, running activities, and
 * starting the confirmation. The seat entities' tasks are measured the same way: a claim waits for one.
 */
import type { temporal } from '@temporalio/proto';
import { SEAT_WORKFLOW_TYPE } from '../../src/entities/seat/contract';
import { toMs } from '../../tools/inspect/history';
import { PURCHASE_WORKFLOW_TYPE } from '../../src/sagas/purchase/contract';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface TaskTimes {
  /** Workflow tasks measured. */
  tasks: number;
  /** Mean ms from a task's scheduling until a worker started it. */
  waitMs: number;
  /** Mean ms from a task's start until the worker completed it. */
  runMs: number;
}

export interface PurchaseTimes {
  purchases: number;
  /** Means per purchase, in ms. */
  totalMs: number;
  taskWaitMs: number;
  taskRunMs: number;
  activityWaitMs: number;
  activityRunMs: number;
  childStartMs: number;
}

export interface Timeline {
  purchase: PurchaseTimes;
  seatTasks: TaskTimes;
}

/** The ms between each closing event and the event it refers to, summed per kind. */
export function historyTimes(events: HistoryEvent[]): {
  totalMs: number;
  taskWaits: number[];
  taskRuns: number[];
  activityWaitMs: number;
  activityRunMs: number;
  childStartMs: number;
} {
  const byId = new Map<number, HistoryEvent>();
  for (const event of events) byId.set(Number(event.eventId), event);
  const since = (event: HistoryEvent, id: unknown) => {
    const from = byId.get(Number(id));
    return from ? toMs(event.eventTime) - toMs(from.eventTime) : 0;
  };
  const times = {
    totalMs: events.length ? toMs(events[events.length - 1].eventTime) - toMs(events[0].eventTime) : 0,
    taskWaits: [] as number[],
    taskRuns: [] as number[],
    activityWaitMs: 0,
    activityRunMs: 0,
    childStartMs: 0,
  };
  for (const event of events) {
    const activityClosed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes;
    if (event.workflowTaskStartedEventAttributes)
      times.taskWaits.push(since(event, event.workflowTaskStartedEventAttributes.scheduledEventId));
    else if (event.workflowTaskCompletedEventAttributes)
      times.taskRuns.push(since(event, event.workflowTaskCompletedEventAttributes.startedEventId));
    else if (event.activityTaskStartedEventAttributes)
      times.activityWaitMs += since(event, event.activityTaskStartedEventAttributes.scheduledEventId);
    else if (activityClosed?.startedEventId)
      times.activityRunMs += since(event, activityClosed.startedEventId);
    else if (event.childWorkflowExecutionStartedEventAttributes)
      times.childStartMs += since(event, event.childWorkflowExecutionStartedEventAttributes.initiatedEventId);
  }
  return times;
}

const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const round = (ms: number) => Math.round(ms);

/** Collects the histories of one drop, by workflow type, into the report's timeline. */
export class TimelineBuilder {
  private readonly purchases: ReturnType<typeof historyTimes>[] = [];
  private readonly seatWaits: number[] = [];
  private readonly seatRuns: number[] = [];

  add(workflowType: string, events: HistoryEvent[]): void {
    if (workflowType === PURCHASE_WORKFLOW_TYPE) this.purchases.push(historyTimes(events));
    if (workflowType === SEAT_WORKFLOW_TYPE) {
      const { taskWaits, taskRuns } = historyTimes(events);
      this.seatWaits.push(...taskWaits);
      this.seatRuns.push(...taskRuns);
    }
  }

  build(): Timeline {
    const p = this.purchases;
    return {
      purchase: {
        purchases: p.length,
        totalMs: round(mean(p.map((t) => t.totalMs))),
        taskWaitMs: round(mean(p.map((t) => sum(t.taskWaits)))),
        taskRunMs: round(mean(p.map((t) => sum(t.taskRuns)))),
        activityWaitMs: round(mean(p.map((t) => t.activityWaitMs))),
        activityRunMs: round(mean(p.map((t) => t.activityRunMs))),
        childStartMs: round(mean(p.map((t) => t.childStartMs))),
      },
      seatTasks: {
        tasks: this.seatWaits.length,
        waitMs: round(mean(this.seatWaits)),
        runMs: round(mean(this.seatRuns)),
      },
    };
  }
}
