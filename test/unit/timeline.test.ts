import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { historyTimes, TimelineBuilder } from '../../loadtest/drop/timeline';

/** A history from [event type, attributes, ms since start] triples, decoded as a fetched one would be. */
function history(steps: [string, Record<string, unknown>, number][]) {
  const start = Date.UTC(2026, 10, 27, 12);
  const events = steps.map(([type, attributes, ms], i) => {
    const key = type.replace(/^./, (c) => c.toLowerCase()) + 'EventAttributes';
    return {
      eventId: String(i + 1),
      eventTime: new Date(start + ms).toISOString(),
      eventType: `EVENT_TYPE_${type.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`,
      [key]: attributes,
    };
  });
  return historyFromJSON({ events }).events ?? [];
}

// A purchase: a task that waits 100 ms and runs 200 ms (its local activities), an activity that waits
// 50 ms and runs 500 ms, a second task (50 + 50 ms) that starts the confirmation, started 50 ms later.
const purchase = history([
  ['WorkflowExecutionStarted', {}, 0],
  ['WorkflowTaskScheduled', {}, 0],
  ['WorkflowTaskStarted', { scheduledEventId: '2' }, 100],
  ['WorkflowTaskCompleted', { startedEventId: '3' }, 300],
  ['ActivityTaskScheduled', {}, 300],
  ['ActivityTaskStarted', { scheduledEventId: '5' }, 350],
  ['ActivityTaskCompleted', { scheduledEventId: '5', startedEventId: '6' }, 850],
  ['WorkflowTaskScheduled', {}, 850],
  ['WorkflowTaskStarted', { scheduledEventId: '8' }, 900],
  ['WorkflowTaskCompleted', { startedEventId: '9' }, 950],
  ['StartChildWorkflowExecutionInitiated', {}, 950],
  ['ChildWorkflowExecutionStarted', { initiatedEventId: '11' }, 1_000],
  ['WorkflowExecutionCompleted', {}, 1_010],
]);

describe("where a drop's purchases spent their time", () => {
  it('splits a history into waiting for the worker, inside tasks, activities and the child start', () => {
    expect(historyTimes(purchase)).toEqual({
      totalMs: 1_010,
      taskWaits: [100, 50],
      taskRuns: [200, 50],
      activityWaitMs: 50,
      activityRunMs: 500,
      childStartMs: 50,
    });
  });

  it('averages per purchase and per seat task, and ignores other workflows', () => {
    const timeline = new TimelineBuilder();
    timeline.add('purchase', purchase);
    timeline.add('purchase', purchase.slice(0, 4)); // a purchase of one task: 100 ms waiting, 200 inside
    timeline.add('seatEntity', purchase.slice(0, 4));
    timeline.add('waitingRoom', purchase);
    expect(timeline.build()).toEqual({
      purchase: {
        purchases: 2,
        totalMs: 655,
        taskWaitMs: 125,
        taskRunMs: 225,
        activityWaitMs: 25,
        activityRunMs: 250,
        childStartMs: 25,
      },
      seatTasks: { tasks: 1, waitMs: 100, runMs: 200 },
    });
  });
});
