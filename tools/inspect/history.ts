/**
 * A workflow's history as a compact timeline: one step per activity, local activity, child, timer,
 * signal and update, with retries collapsed into an attempt count and the last error. Pure: takes the
 * raw events, so the views can be tested on recorded histories as well as live ones.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { rootCause, type Cause, type ProtoFailure } from '../../src/observe/root-cause';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;
const E = temporal.api.enums.v1.EventType;

export type StepKind =
  'activity' | 'local-activity' | 'child' | 'timer' | 'signal' | 'signal-out' | 'update' | 'workflow-task';
export type StepStatus = 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'terminated' | 'pending';
export type WorkflowStatus =
  'running' | 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'terminated' | 'continued-as-new';

export interface Step {
  kind: StepKind;
  /** Activity or workflow type, timer id, signal or update name. */
  name: string;
  status: StepStatus;
  /** Epoch ms: scheduled, started, received or accepted. */
  startedAt: number;
  endedAt?: number;
  /** Attempts made (retries collapsed into this count). */
  attempts: number;
  /** The final error, or the last failed attempt's error when a retry is still to come or succeeded. */
  error?: Cause;
  /** The other workflow: a child's id, a signal's target, an update's caller (when its id names one). */
  peer?: string;
  /** Activity id, update id or timer id. */
  id?: string;
  /** Consecutive identical steps folded into one (signals, updates and projections on entities). */
  count?: number;
  /** A short text for the answer (a timer's duration, a seat's new status). */
  detail?: string;
  /** The decoded answer, for the views' own use (never printed whole). */
  value?: unknown;
  /** An activity's decoded first argument, for the views' own use (never printed whole). */
  input?: unknown;
}

export interface Timeline {
  workflowId: string;
  runId: string;
  type: string;
  status: WorkflowStatus;
  startedAt: number;
  closedAt?: number;
  input?: unknown;
  failure?: Cause;
  /** Events in this run's history. */
  events: number;
  steps: Step[];
}

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

export function toMs(ts: Timestamp): number {
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** The first payload decoded, or undefined when there is none or it is not JSON-ish. */
export function decodeFirst(payloads: Payloads): unknown {
  const first = payloads?.payloads?.[0];
  if (!first) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(first);
  } catch {
    return undefined;
  }
}

/** The workflow id an update, signal or hold id names (`hold:purchase-e1-fan-7:A1` → purchase-e1-fan-7). */
export function workflowIdIn(text: string | null | undefined): string | undefined {
  return /(?:^|[:/])((?:purchase|confirmation|seat|queue|event)-[^:/]+)/.exec(text ?? '')?.[1];
}

function failureStatus(failure: ProtoFailure | null | undefined): StepStatus {
  if (failure?.timeoutFailureInfo) return 'timed-out';
  if (failure?.canceledFailureInfo) return 'cancelled';
  return 'failed';
}

/** A short text for a step's answer: enough to recognise it, never a whole payload. */
function summarize(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') return String(value).slice(0, 80);
  const record = value as Record<string, unknown>;
  const picked = ['status', 'seatId', 'state', 'chargeId', 'ticketId']
    .filter((key) => typeof record[key] === 'string' || typeof record[key] === 'number')
    .map((key) => `${key}=${String(record[key])}`);
  return picked.length ? picked.join(' ') : undefined;
}

function answer(payloads: Payloads): Pick<Step, 'detail' | 'value'> {
  const value = decodeFirst(payloads);
  return { detail: summarize(value), value };
}

interface LocalActivityMarker {
  seq: number;
  attempt: number;
  activity_id: string;
  activity_type: string;
  complete_time?: Timestamp;
  original_schedule_time?: Timestamp;
}

/** "start-to-close" for TIMEOUT_TYPE_START_TO_CLOSE (as a number or a name). */
function timeoutName(type: unknown): string {
  const name =
    typeof type === 'number'
      ? temporal.api.enums.v1.TimeoutType[type]
      : String(type ?? 'TIMEOUT_TYPE_UNSPECIFIED');
  return name
    .replace(/^TIMEOUT_TYPE_/, '')
    .toLowerCase()
    .replace(/_/g, '-');
}

/** Builds the compact timeline of one run from its events. */
export function compactTimeline(workflowId: string, events: HistoryEvent[]): Timeline {
  const first = events[0]?.workflowExecutionStartedEventAttributes;
  const timeline: Timeline = {
    workflowId,
    runId: first?.originalExecutionRunId ?? '',
    type: first?.workflowType?.name ?? 'unknown',
    status: 'running',
    startedAt: toMs(events[0]?.eventTime),
    input: decodeFirst(first?.input),
    events: events.length,
    steps: [],
  };
  const open = new Map<string, Step>();
  const localActivities = new Map<number, Step>();
  /** When each workflow task started, by its started event's id. */
  const taskStarts = new Map<string, number>();
  const lostTask = (at: number, startedEventId: unknown, status: StepStatus, error: Cause) =>
    timeline.steps.push({
      kind: 'workflow-task',
      name: 'workflow task',
      status,
      startedAt: taskStarts.get(String(startedEventId ?? '')) ?? at,
      endedAt: at,
      attempts: 1,
      error,
    });
  const begin = (key: string, step: Step) => {
    open.set(key, step);
    timeline.steps.push(step);
  };
  const end = (key: string, at: number, status: StepStatus, patch: Partial<Step> = {}) => {
    const step = open.get(key);
    if (!step) return;
    Object.assign(step, { status, endedAt: at }, patch);
    open.delete(key);
  };

  for (const event of events) {
    const at = toMs(event.eventTime);
    const id = String(event.eventId ?? '');
    switch (event.eventType) {
      case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const a = event.activityTaskScheduledEventAttributes!;
        begin(`a${id}`, {
          kind: 'activity',
          name: a.activityType?.name ?? 'activity',
          status: 'pending',
          startedAt: at,
          attempts: 1,
          id: a.activityId ?? undefined,
          input: decodeFirst(a.input),
        });
        break;
      }
      case E.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = event.activityTaskStartedEventAttributes!;
        const step = open.get(`a${String(a.scheduledEventId)}`);
        if (step) {
          step.attempts = a.attempt ?? 1;
          if (a.lastFailure) step.error = rootCause(a.lastFailure);
        }
        break;
      }
      case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const a = event.activityTaskCompletedEventAttributes!;
        end(`a${String(a.scheduledEventId)}`, at, 'completed', answer(a.result));
        break;
      }
      case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const a = event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes!;
        const step = open.get(`a${String(a.scheduledEventId)}`);
        end(`a${String(a.scheduledEventId)}`, at, failureStatus(a.failure), {
          error: rootCause(a.failure, step?.name),
        });
        break;
      }
      case E.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const a = event.activityTaskCanceledEventAttributes!;
        end(`a${String(a.scheduledEventId)}`, at, 'cancelled');
        break;
      }
      case E.EVENT_TYPE_MARKER_RECORDED: {
        const m = event.markerRecordedEventAttributes!;
        if (m.markerName !== 'core_local_activity') break;
        const data = decodeFirst(m.details?.data) as LocalActivityMarker | undefined;
        if (!data) break;
        // The marker's schedule time is exact only for a first schedule; when it lies after the completion,
        // the start is unknown and the step is drawn at its completion.
        const endedAt = toMs(data.complete_time) || at;
        const scheduled = toMs(data.original_schedule_time);
        const startedAt = scheduled && scheduled <= endedAt ? scheduled : endedAt;
        const patch: Partial<Step> = m.failure
          ? { status: failureStatus(m.failure), error: rootCause(m.failure, data.activity_type) }
          : { status: 'completed', ...answer(m.details?.result) };
        const known = localActivities.get(data.seq);
        if (known) {
          Object.assign(known, patch, { endedAt, attempts: Math.max(known.attempts, data.attempt) });
        } else {
          const step: Step = {
            kind: 'local-activity',
            name: data.activity_type,
            status: 'completed',
            startedAt,
            endedAt,
            attempts: data.attempt || 1,
            id: data.activity_id,
            ...patch,
          };
          localActivities.set(data.seq, step);
          timeline.steps.push(step);
        }
        break;
      }
      case E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: {
        const a = event.startChildWorkflowExecutionInitiatedEventAttributes!;
        begin(`c${id}`, {
          kind: 'child',
          name: a.workflowType?.name ?? 'child',
          status: 'pending',
          startedAt: at,
          attempts: 1,
          peer: a.workflowId ?? undefined,
        });
        break;
      }
      case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
        const step = open.get(
          `c${String(event.childWorkflowExecutionStartedEventAttributes!.initiatedEventId)}`,
        );
        if (step) Object.assign(step, { endedAt: at, detail: `started at +${at - step.startedAt} ms` });
        break;
      }
      case E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED: {
        const a = event.startChildWorkflowExecutionFailedEventAttributes!;
        end(`c${String(a.initiatedEventId)}`, at, 'failed', {
          error: { message: `child could not start (${String(a.cause)})` },
        });
        break;
      }
      case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
        end(
          `c${String(event.childWorkflowExecutionCompletedEventAttributes!.initiatedEventId)}`,
          at,
          'completed',
        );
        break;
      case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: {
        const a = event.childWorkflowExecutionFailedEventAttributes!;
        end(`c${String(a.initiatedEventId)}`, at, 'failed', { error: rootCause(a.failure) });
        break;
      }
      case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
        end(
          `c${String(event.childWorkflowExecutionTimedOutEventAttributes!.initiatedEventId)}`,
          at,
          'timed-out',
        );
        break;
      case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
        end(
          `c${String(event.childWorkflowExecutionCanceledEventAttributes!.initiatedEventId)}`,
          at,
          'cancelled',
        );
        break;
      case E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
        end(
          `c${String(event.childWorkflowExecutionTerminatedEventAttributes!.initiatedEventId)}`,
          at,
          'terminated',
        );
        break;
      case E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        taskStarts.set(id, at);
        break;
      // Only a lost task is a step: its local activities reach history only with a completed task, so the
      // next task runs them again (and anything they did is done twice).
      case E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: {
        const a = event.workflowTaskTimedOutEventAttributes!;
        lostTask(at, a.startedEventId, 'timed-out', {
          message: `${timeoutName(a.timeoutType)} timeout: the worker did not finish it in time; its local activities run again in the next task`,
        });
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_TASK_FAILED: {
        const a = event.workflowTaskFailedEventAttributes!;
        lostTask(
          at,
          a.startedEventId,
          'failed',
          a.failure ? rootCause(a.failure) : { message: `failed (${String(a.cause)})` },
        );
        break;
      }
      case E.EVENT_TYPE_TIMER_STARTED: {
        const a = event.timerStartedEventAttributes!;
        begin(`t${a.timerId ?? id}`, {
          kind: 'timer',
          name: `timer ${a.timerId ?? ''}`.trim(),
          status: 'pending',
          startedAt: at,
          attempts: 1,
          id: a.timerId ?? undefined,
          detail: a.startToFireTimeout ? `${Number(a.startToFireTimeout.seconds ?? 0)}s` : undefined,
        });
        break;
      }
      case E.EVENT_TYPE_TIMER_FIRED:
        end(`t${event.timerFiredEventAttributes!.timerId ?? ''}`, at, 'completed');
        break;
      case E.EVENT_TYPE_TIMER_CANCELED:
        end(`t${event.timerCanceledEventAttributes!.timerId ?? ''}`, at, 'cancelled');
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const a = event.workflowExecutionSignaledEventAttributes!;
        timeline.steps.push({
          kind: 'signal',
          name: a.signalName ?? 'signal',
          status: 'completed',
          startedAt: at,
          endedAt: at,
          attempts: 1,
        });
        break;
      }
      case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: {
        const a = event.signalExternalWorkflowExecutionInitiatedEventAttributes!;
        begin(`s${id}`, {
          kind: 'signal-out',
          name: a.signalName ?? 'signal',
          status: 'pending',
          startedAt: at,
          attempts: 1,
          peer: a.workflowExecution?.workflowId ?? undefined,
        });
        break;
      }
      case E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
        end(
          `s${String(event.externalWorkflowExecutionSignaledEventAttributes!.initiatedEventId)}`,
          at,
          'completed',
        );
        break;
      case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: {
        const a = event.signalExternalWorkflowExecutionFailedEventAttributes!;
        end(`s${String(a.initiatedEventId)}`, at, 'failed', {
          error: { message: `signal not delivered (${String(a.cause)})` },
        });
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const a = event.workflowExecutionUpdateAcceptedEventAttributes!;
        const updateId = a.acceptedRequest?.meta?.updateId ?? a.protocolInstanceId ?? undefined;
        begin(`u${id}`, {
          kind: 'update',
          name: a.acceptedRequest?.input?.name ?? 'update',
          status: 'pending',
          startedAt: at,
          attempts: 1,
          id: updateId,
          peer: workflowIdIn(updateId),
        });
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
        const a = event.workflowExecutionUpdateCompletedEventAttributes!;
        const key = `u${String(a.acceptedEventId)}`;
        if (a.outcome?.failure) end(key, at, 'failed', { error: rootCause(a.outcome.failure) });
        else end(key, at, 'completed', answer(a.outcome?.success));
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        Object.assign(timeline, { status: 'completed', closedAt: at });
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        Object.assign(timeline, {
          status: 'failed',
          closedAt: at,
          failure: rootCause(event.workflowExecutionFailedEventAttributes!.failure),
        });
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        Object.assign(timeline, {
          status: 'timed-out',
          closedAt: at,
          failure: { message: 'workflow timed out' },
        });
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        Object.assign(timeline, {
          status: 'cancelled',
          closedAt: at,
          failure: { message: 'workflow cancelled' },
        });
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: {
        const reason = event.workflowExecutionTerminatedEventAttributes?.reason;
        Object.assign(timeline, {
          status: 'terminated',
          closedAt: at,
          failure: { message: reason ? `terminated: ${reason}` : 'terminated' },
        });
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        Object.assign(timeline, { status: 'continued-as-new', closedAt: at });
        break;
      default:
        break;
    }
  }
  if (timeline.closedAt !== undefined) settleOpenSteps(open, timeline.closedAt);
  timeline.steps = foldRepeats(timeline.steps.sort((a, b) => a.startedAt - b.startedAt));
  return timeline;
}

/**
 * Steps still open when the run closed: a started child runs on by itself (its start was the parent's
 * part); anything else was dropped with the run.
 */
function settleOpenSteps(open: Map<string, Step>, closedAt: number): void {
  for (const step of open.values()) {
    if (step.kind === 'child' && step.detail) {
      Object.assign(step, { status: 'completed', detail: `${step.detail}, runs on after the parent closed` });
    } else if (step.kind !== 'update') {
      Object.assign(step, {
        status: 'cancelled',
        endedAt: closedAt,
        detail: 'still open when the run closed',
      });
    }
  }
}

/** Folds runs of identical finished steps (an entity's stream of signals, projections, join batches). */
function foldRepeats(steps: Step[]): Step[] {
  const folded: Step[] = [];
  for (const step of steps) {
    const last = folded.at(-1);
    const same =
      last &&
      last.kind === step.kind &&
      last.name === step.name &&
      last.status === step.status &&
      last.peer === step.peer &&
      step.status === 'completed' &&
      (step.kind === 'signal' || step.kind === 'local-activity' || (step.kind === 'update' && !step.peer));
    if (same) {
      last.count = (last.count ?? 1) + 1;
      last.endedAt = step.endedAt ?? last.endedAt;
      last.detail = step.detail ?? last.detail;
    } else folded.push(step);
  }
  return folded;
}
