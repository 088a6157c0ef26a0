/**
 * `workflow describe --trace-root-cause`: the saga's steps and compensations in order
 * (reserve ✓ → payment ✗ → refund ✓ → release ✓), failed children followed down to the workflow where
 * the failure began, and the root cause in the contract's vocabulary. Compensations still owed by a
 * running saga show as waiting, in the order the saga will run them.
 */
import type { Client } from '@temporalio/client';
import { PURCHASE_SAGA, PURCHASE_WORKFLOW_TYPE, type SagaStep } from '../../src/sagas/purchase/contract';
import { formatCause, type Cause } from '../../src/observe/root-cause';
import type { Step, StepStatus, Timeline } from './history';
import { diagram, label } from '../../src/observe/mermaid';
import { describePending } from './pending';
import { attemptsText, STATUS_MARK } from './show';
import { loadTimeline } from './source';

export interface TraceStep {
  step: string;
  /** The activity or child workflow type that ran it. */
  ran: string;
  status: StepStatus | 'waiting';
  compensation: boolean;
  attempts: number;
  error?: Cause;
}

export interface TraceLink {
  workflowId: string;
  type: string;
  status: Timeline['status'];
  failure?: Cause;
}

export interface TraceReport {
  workflowId: string;
  type: string;
  status: Timeline['status'];
  steps: TraceStep[];
  /** This workflow, then each failed child followed, down to where the failure began. */
  chain: TraceLink[];
  rootCause?: Cause & { workflowId: string };
}

/** Not a step of the business process: projections, waiting-room messages, the pick of seats to try. */
const PLUMBING = (name: string) => name.startsWith('project') || name === 'tellQueue' || name === 'pickSeats';

function sagaOf(type: string): readonly SagaStep[] | undefined {
  return type === PURCHASE_WORKFLOW_TYPE ? PURCHASE_SAGA : undefined;
}

/**
 * A forward step that failed and was not tried again with success: a best-available reserve that met
 * SEAT_TAKEN and then held another seat did not fail the saga.
 */
function failedForwardStep(steps: TraceStep[], step: TraceStep, index: number): boolean {
  if (step.compensation || step.status === 'completed' || step.status === 'pending') return false;
  return !steps.slice(index + 1).some((later) => later.step === step.step && later.status === 'completed');
}

function toTraceSteps(timeline: Timeline, saga: readonly SagaStep[] | undefined): TraceStep[] {
  const work = timeline.steps.filter(
    (s) => (s.kind === 'activity' || s.kind === 'local-activity' || s.kind === 'child') && !PLUMBING(s.name),
  );
  const named = (s: Step): { step: string; compensation: boolean } => {
    const forward = saga?.find((d) => d.activity === s.name || d.child === s.name);
    if (forward) return { step: forward.step, compensation: false };
    const undo = saga?.find((d) => d.undo?.activity === s.name)?.undo;
    return undo ? { step: undo.step, compensation: true } : { step: s.name, compensation: false };
  };
  const steps: TraceStep[] = work.map((s) => ({
    ...named(s),
    ran: s.name,
    status: s.status,
    attempts: s.attempts,
    ...(s.error && { error: s.error }),
  }));
  if (!saga || timeline.status !== 'running') return steps;
  // A running saga that has begun to undo owes the rest of its undos, newest first.
  const failedForward = steps.some((s, i) => failedForwardStep(steps, s, i));
  if (!failedForward && !steps.some((s) => s.compensation)) return steps;
  const owed = saga
    .filter((d) => d.undo)
    .filter((d) => steps.some((s) => s.ran === d.activity && (s.status === 'completed' || d.undoFromStart)))
    .reverse();
  for (const d of owed) {
    if (!steps.some((s) => s.ran === d.undo!.activity)) {
      steps.push({
        step: d.undo!.step,
        ran: d.undo!.activity,
        status: 'waiting',
        compensation: true,
        attempts: 0,
      });
    }
  }
  return steps;
}

export async function traceRootCause(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<TraceReport> {
  const timeline = await loadTimeline(client, workflowId, runId);
  const steps = toTraceSteps(timeline, sagaOf(timeline.type));
  if (timeline.status === 'running') {
    // The history records a retried activity's attempts only when it ends: the server knows them now.
    const pending = await describePending(client, workflowId, runId);
    for (const a of pending.activities) {
      const step = steps.find((s) => s.ran === a.name && s.status === 'pending');
      if (!step) continue;
      step.attempts = a.attempt;
      if (a.lastFailure) step.error = a.lastFailure;
    }
  }
  const chain: TraceLink[] = [];
  let current: Timeline | undefined = timeline;
  while (current && chain.length < 8) {
    chain.push({
      workflowId: current.workflowId,
      type: current.type,
      status: current.status,
      ...(current.failure && { failure: current.failure }),
    });
    const failedChild: Step | undefined = current.steps.find(
      (s) => s.kind === 'child' && s.status !== 'completed' && s.status !== 'pending' && s.peer,
    );
    current = failedChild ? await loadTimeline(client, failedChild.peer!) : undefined;
  }
  const deepest = chain.at(-1)!;
  const failedStep = steps.find((s, i) => s.error && failedForwardStep(steps, s, i));
  const stuck = steps.find((s) => s.status === 'pending' && s.error);
  const cause = deepest.failure ?? failedStep?.error ?? stuck?.error;
  return {
    workflowId,
    type: timeline.type,
    status: timeline.status,
    steps,
    chain,
    ...(cause && { rootCause: { ...cause, workflowId: deepest.failure ? deepest.workflowId : workflowId } }),
  };
}

const MARK: Record<TraceStep['status'], string> = { ...STATUS_MARK, waiting: '⏸' };

export function traceText(report: TraceReport): string {
  const arrow = report.steps
    .map((s) => `${s.step} ${MARK[s.status]}${s.compensation ? ' (compensation)' : ''}`)
    .join(' → ');
  const width = Math.max(8, ...report.steps.map((s) => s.step.length));
  const lines = [
    `${report.workflowId} (${report.type}) ${report.status}`,
    `Saga: ${arrow || '(no steps ran)'}`,
    ...report.steps.map((s) => {
      const what = `${s.step.padEnd(width)} ${MARK[s.status]} ${s.ran}${s.compensation ? ' (compensation)' : ''}`;
      const error = s.error && s.status !== 'completed' ? `  ${formatCause(s.error)}` : '';
      const retried = s.attempts > 1 ? ` (attempt ${s.attempts})` : '';
      return `  ${what}${s.status === 'waiting' ? '  waiting for the compensation before it' : ''}${error}${s.status === 'completed' ? attemptsText({ ...s, status: s.status }) : retried}`;
    }),
  ];
  if (report.chain.length > 1) {
    lines.push(`Followed: ${report.chain.map((l) => `${l.workflowId} (${l.status})`).join(' → ')}`);
  }
  lines.push(
    report.rootCause
      ? `Root cause: ${formatCause(report.rootCause)}${report.rootCause.source ? ` in ${report.rootCause.source}` : ''} (${report.rootCause.workflowId})`
      : `Root cause: none, the workflow is ${report.status} without a failure`,
  );
  return lines.join('\n') + '\n';
}

export function traceMermaid(report: TraceReport): string {
  const lines: string[] = [`wf(["${label(`${report.workflowId} · ${report.status}`)}"])`];
  let previous = 'wf';
  report.steps.forEach((s, i) => {
    const id = `s${i}`;
    const error = s.error && s.status !== 'completed' ? ` · ${formatCause(s.error)}` : '';
    const kind = s.compensation ? ' (compensation)' : '';
    const style =
      s.status === 'completed' ? 'ok' : s.status === 'pending' || s.status === 'waiting' ? 'wait' : 'fail';
    lines.push(`${id}["${label(`${s.step} ${MARK[s.status]}${kind}${error}`)}"]:::${style}`);
    lines.push(`${previous} ${s.compensation ? '-.->' : '-->'} ${id}`);
    previous = id;
  });
  if (report.rootCause) {
    lines.push(`rc[/"${label(`Root cause: ${formatCause(report.rootCause)}`)}"/]:::fail`);
    const origin = report.steps.findIndex((s, i) => s.error && failedForwardStep(report.steps, s, i));
    lines.push(`${origin >= 0 ? `s${origin}` : 'wf'} ==> rc`);
  }
  lines.push(
    'classDef ok fill:#e6f4ea,stroke:#1e7e34,color:#0b3d17',
    'classDef fail fill:#fdecea,stroke:#b3261e,color:#5c0b06',
    'classDef wait fill:#fff4e5,stroke:#a15c00,color:#4a2a00',
  );
  return diagram('flowchart LR', lines);
}
