/**
 * `workflow describe --pending`: what a workflow is waiting on right now. Pending activities (attempt,
 * last failure, next retry) and children come from the server's description; accepted Updates not yet
 * answered and timers not yet fired from the history; an entity adds its own state (the queue entity its
 * admitted and waiting counts, a seat entity its status).
 */
import type { Client } from '@temporalio/client';
import { queueSnapshotQuery, QUEUE_WORKFLOW_TYPE } from '../../src/entities/queue/contract';
import { SEAT_WORKFLOW_TYPE, seatStateQuery } from '../../src/entities/seat/contract';
import { formatCause, rootCause, type Cause } from '../../src/observe/root-cause';
import { compactTimeline, toMs } from './history';
import { diagram, label } from '../../src/observe/mermaid';
import { explain } from '../../src/observe/visibility';
import { fetchEvents } from './source';
import { formatMs } from './show';

export interface PendingActivity {
  name: string;
  activityId: string;
  state: 'scheduled' | 'started' | 'cancel-requested' | 'paused' | 'unknown';
  attempt: number;
  /** 0: unlimited. */
  maximumAttempts: number;
  lastFailure?: Cause;
  lastHeartbeatAt?: string;
  lastStartedAt?: string;
  nextAttemptAt?: string;
  /** When the activity gives up for good (schedule-to-close), if it ever does. */
  expiresAt?: string;
}

export interface PendingChild {
  workflowId: string;
  type: string;
}

export interface PendingUpdate {
  name: string;
  updateId: string;
  caller?: string;
  acceptedAt: string;
}

export interface PendingTimer {
  timerId: string;
  firesAt: string;
}

export type EntityState =
  | {
      kind: 'queue';
      joined: number;
      admitted: number;
      waiting: number;
      active: number;
      purchasing: number;
      sold: number;
      capacity: number;
      closed?: string;
    }
  | { kind: 'seat'; seatId: string; status: string; holdExpiresAt?: string };

export interface PendingReport {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  startedAt: string;
  historyLength: number;
  workflowTask?: { attempt: number; state: string };
  activities: PendingActivity[];
  children: PendingChild[];
  updates: PendingUpdate[];
  timers: PendingTimer[];
  entity?: EntityState;
}

const ACTIVITY_STATES = ['unknown', 'scheduled', 'started', 'cancel-requested', 'paused', 'paused'] as const;
const iso = (ms: number) => new Date(ms).toISOString();
const isoOf = (ts: Parameters<typeof toMs>[0]) => (ts ? iso(toMs(ts)) : undefined);

async function entityState(
  client: Client,
  workflowId: string,
  type: string,
): Promise<EntityState | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  if (type === QUEUE_WORKFLOW_TYPE) {
    const view = await handle.query(queueSnapshotQuery);
    return {
      kind: 'queue',
      joined: view.joined,
      admitted: view.admittedThrough,
      waiting: Math.max(0, view.joined - view.admittedThrough),
      active: view.active,
      purchasing: view.purchasing,
      sold: view.sold,
      capacity: view.capacity,
      ...(view.closed && { closed: view.closed }),
    };
  }
  if (type === SEAT_WORKFLOW_TYPE) {
    const seat = await handle.query(seatStateQuery);
    return {
      kind: 'seat',
      seatId: seat.seatId,
      status: seat.status,
      ...(seat.holdExpiresAt && { holdExpiresAt: iso(seat.holdExpiresAt) }),
    };
  }
  return undefined;
}

export async function describePending(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<PendingReport> {
  let raw;
  try {
    raw = await client.workflowService.describeWorkflowExecution({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
    });
  } catch (err) {
    throw explain(err, workflowId);
  }
  const info = raw.workflowExecutionInfo;
  const timeline = compactTimeline(workflowId, await fetchEvents(client, workflowId, runId));
  const running = timeline.status === 'running';
  const open = timeline.steps.filter((step) => step.status === 'pending');
  const report: PendingReport = {
    workflowId,
    runId: info?.execution?.runId ?? '',
    type: info?.type?.name ?? timeline.type,
    status: timeline.status,
    startedAt: iso(timeline.startedAt),
    historyLength: Number(info?.historyLength ?? timeline.events),
    activities: (raw.pendingActivities ?? []).map((a) => ({
      name: a.activityType?.name ?? 'activity',
      activityId: a.activityId ?? '',
      state: ACTIVITY_STATES[Number(a.state ?? 0)] ?? 'unknown',
      attempt: a.attempt ?? 1,
      maximumAttempts: a.maximumAttempts ?? 0,
      ...(a.lastFailure && { lastFailure: rootCause(a.lastFailure) }),
      ...(a.lastHeartbeatTime && { lastHeartbeatAt: isoOf(a.lastHeartbeatTime) }),
      ...(a.lastStartedTime && { lastStartedAt: isoOf(a.lastStartedTime) }),
      ...(a.nextAttemptScheduleTime && { nextAttemptAt: isoOf(a.nextAttemptScheduleTime) }),
      ...(a.expirationTime && toMs(a.expirationTime) > 0 && { expiresAt: isoOf(a.expirationTime) }),
    })),
    children: (raw.pendingChildren ?? []).map((c) => ({
      workflowId: c.workflowId ?? '',
      type: c.workflowTypeName ?? 'workflow',
    })),
    updates: open
      .filter((step) => step.kind === 'update')
      .map((step) => ({
        name: step.name,
        updateId: step.id ?? '',
        ...(step.peer && { caller: step.peer }),
        acceptedAt: iso(step.startedAt),
      })),
    timers: open
      .filter((step) => step.kind === 'timer')
      .map((step) => ({
        timerId: step.id ?? '',
        firesAt: iso(step.startedAt + 1000 * Number.parseInt(step.detail ?? '0', 10)),
      })),
  };
  if (raw.pendingWorkflowTask) {
    report.workflowTask = {
      attempt: raw.pendingWorkflowTask.attempt ?? 1,
      state: Number(raw.pendingWorkflowTask.state) === 2 ? 'started' : 'scheduled',
    };
  }
  if (running) {
    try {
      const entity = await entityState(client, workflowId, report.type);
      if (entity) report.entity = entity;
    } catch {
      // A busy entity may not answer a query in time: the pending work above still stands.
    }
  }
  return report;
}

function activityLine(a: PendingActivity, now: number): string {
  const limit = a.maximumAttempts ? `/${a.maximumAttempts}` : '';
  const next = a.nextAttemptAt
    ? `, next retry in ${formatMs(Math.max(0, Date.parse(a.nextAttemptAt) - now))}`
    : '';
  const last = a.lastFailure ? `, last failure: ${formatCause(a.lastFailure)}` : '';
  return `${a.name} (${a.state}, attempt ${a.attempt}${limit}${next}${last})`;
}

function entityLines(entity: EntityState): string[] {
  if (entity.kind === 'queue') {
    return [
      `admitted ${entity.admitted}, waiting ${entity.waiting} (joined ${entity.joined})`,
      `active ${entity.active} (purchasing ${entity.purchasing}), sold ${entity.sold}/${entity.capacity}${entity.closed ? `, ${entity.closed}` : ''}`,
    ];
  }
  return [
    `seat ${entity.seatId} ${entity.status}${entity.holdExpiresAt ? ` until ${entity.holdExpiresAt}` : ''}`,
  ];
}

export function pendingText(report: PendingReport, now = Date.now()): string {
  const section = (title: string, lines: string[]) =>
    lines.length ? [`${title}:`, ...lines.map((l) => `  ${l}`)] : [];
  const lines = [
    `${report.workflowId} (${report.type}) ${report.status}, ${report.historyLength} events`,
    ...section(
      'Pending activities',
      report.activities.map((a) => activityLine(a, now)),
    ),
    ...section(
      'Pending children',
      report.children.map((c) => `${c.workflowId} (${c.type})`),
    ),
    ...section(
      'Pending updates',
      report.updates.map((u) => `${u.name} ${u.updateId}${u.caller ? ` from ${u.caller}` : ''}`),
    ),
    ...section(
      'Pending timers',
      report.timers.map((t) => `${t.timerId} fires at ${t.firesAt}`),
    ),
    ...(report.workflowTask
      ? [`Workflow task: ${report.workflowTask.state}, attempt ${report.workflowTask.attempt}`]
      : []),
    ...section(
      report.entity?.kind === 'queue' ? 'Waiting room' : 'Seat',
      report.entity ? entityLines(report.entity) : [],
    ),
  ];
  const nothing =
    report.activities.length + report.children.length + report.updates.length + report.timers.length === 0;
  if (nothing && !report.workflowTask)
    lines.push(
      report.status === 'running' ? 'Nothing pending.' : `Nothing pending: the workflow is ${report.status}.`,
    );
  return lines.join('\n') + '\n';
}

/** A graph: the workflow, then one subgraph per kind of pending work, each item linked from the workflow. */
export function pendingMermaid(report: PendingReport, now = Date.now()): string {
  const lines = [`wf["${label(`${report.workflowId} · ${report.type} · ${report.status}`)}"]`];
  const group = (id: string, title: string, items: string[]) => {
    if (!items.length) return;
    lines.push(`subgraph ${id}["${label(title)}"]`);
    items.forEach((text, i) => lines.push(`  ${id}${i}["${label(text)}"]`));
    lines.push('end');
    items.forEach((_, i) => lines.push(`wf --> ${id}${i}`));
  };
  group(
    'act',
    'Pending activities',
    report.activities.map((a) => activityLine(a, now)),
  );
  group(
    'child',
    'Pending children',
    report.children.map((c) => `${c.workflowId} (${c.type})`),
  );
  group(
    'upd',
    'Pending updates',
    report.updates.map((u) => `${u.name} ${u.updateId}`),
  );
  group(
    'tmr',
    'Pending timers',
    report.timers.map((t) => `${t.timerId} fires at ${t.firesAt}`),
  );
  if (report.workflowTask)
    group('wft', 'Workflow task', [`${report.workflowTask.state}, attempt ${report.workflowTask.attempt}`]);
  if (report.entity)
    group('ent', report.entity.kind === 'queue' ? 'Waiting room' : 'Seat', entityLines(report.entity));
  return diagram('flowchart TB', lines);
}
