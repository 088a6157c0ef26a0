/**
 * `workflow show --compact`: the compact timeline of one or more workflows. Several ids give one merged
 * sequence diagram in which the seat entity is a participant, so two purchases racing for one seat show
 * as one accepted claim and one rejected claim on the same lifeline. The diagram leaves out the
 * projections to the read-side cache (text and JSON list them).
 */
import type { Client } from '@temporalio/client';
import { formatCause, type Cause } from '../../src/observe/root-cause';
import type { Step, StepStatus, Timeline } from './history';
import { diagram, label, nodeId } from '../../src/observe/mermaid';
import { CACHE, orderParticipants, peerOf } from './participants';
import { loadTimeline } from './source';

export interface StepJson {
  kind: Step['kind'];
  name: string;
  status: StepStatus;
  startedAt: string;
  /** Milliseconds after the workflow started. */
  offsetMs: number;
  durationMs?: number;
  attempts: number;
  count?: number;
  peer?: string;
  id?: string;
  detail?: string;
  error?: Cause;
}

export interface TimelineJson {
  workflowId: string;
  runId: string;
  type: string;
  status: Timeline['status'];
  startedAt: string;
  closedAt?: string;
  durationMs?: number;
  events: number;
  failure?: Cause;
  steps: StepJson[];
}

export interface ShowJson {
  workflows: TimelineJson[];
}

export async function showCompact(
  client: Client,
  workflowIds: string[],
  runId?: string,
): Promise<Timeline[]> {
  const timelines: Timeline[] = [];
  for (const id of workflowIds) timelines.push(await loadTimeline(client, id, runId));
  return timelines;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function timelineJson(timeline: Timeline): TimelineJson {
  const steps = timeline.steps.map((step): StepJson => ({
    kind: step.kind,
    name: step.name,
    status: step.status,
    startedAt: iso(step.startedAt),
    offsetMs: Math.max(0, step.startedAt - timeline.startedAt),
    ...(step.endedAt !== undefined && { durationMs: Math.max(0, step.endedAt - step.startedAt) }),
    attempts: step.attempts,
    ...(step.count && { count: step.count }),
    ...(peerOf(step, timeline) && { peer: peerOf(step, timeline) }),
    ...(step.id && { id: step.id }),
    ...(step.detail && { detail: step.detail }),
    ...(step.error && { error: step.error }),
  }));
  return {
    workflowId: timeline.workflowId,
    runId: timeline.runId,
    type: timeline.type,
    status: timeline.status,
    startedAt: iso(timeline.startedAt),
    ...(timeline.closedAt !== undefined && {
      closedAt: iso(timeline.closedAt),
      durationMs: timeline.closedAt - timeline.startedAt,
    }),
    events: timeline.events,
    ...(timeline.failure && { failure: timeline.failure }),
    steps,
  };
}

export const STATUS_MARK: Record<StepStatus | Timeline['status'], string> = {
  completed: '✓',
  failed: '✗',
  'timed-out': '⏱',
  cancelled: '⊘',
  terminated: '■',
  pending: '…',
  running: '…',
  'continued-as-new': '↻',
};

const KIND_TEXT: Record<Step['kind'], string> = {
  activity: 'activity',
  'local-activity': 'local activity',
  child: 'child workflow',
  timer: 'timer',
  signal: 'signal',
  'signal-out': 'signal sent',
  update: 'update',
  'workflow-task': 'lost',
};

export function formatMs(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "(3 attempts, last error: …)" when a step was retried; empty otherwise. */
export function attemptsText(step: Pick<Step, 'attempts' | 'error' | 'status'>): string {
  if (step.attempts <= 1) return '';
  // A step that failed in the end shows its final error already; a retried success shows what it overcame.
  const last = step.error && step.status === 'completed' ? `, last error: ${formatCause(step.error)}` : '';
  return ` (${step.attempts} attempts${last})`;
}

function stepLine(step: Step, timeline: Timeline): string {
  const offset = `+${formatMs(Math.max(0, step.startedAt - timeline.startedAt))}`.padStart(10);
  const peer = peerOf(step, timeline);
  const what = `${step.name}${step.count ? ` ×${step.count}` : ''}`;
  const kind = `${KIND_TEXT[step.kind]}${peer ? ` → ${peer}` : ''}`;
  const took = step.endedAt !== undefined ? ` [${formatMs(step.endedAt - step.startedAt)}]` : '';
  const outcome =
    step.status === 'failed' || step.status === 'timed-out'
      ? `  ${formatCause(step.error ?? { message: step.status })}`
      : step.detail
        ? `  ${step.detail}`
        : '';
  return `${offset}  ${STATUS_MARK[step.status]} ${what.padEnd(20)} ${kind}${took}${outcome}${attemptsText(step)}`;
}

export function timelineText(timeline: Timeline): string {
  const took =
    timeline.closedAt !== undefined ? `, took ${formatMs(timeline.closedAt - timeline.startedAt)}` : '';
  const lines = [
    `${timeline.workflowId} (${timeline.type}) ${timeline.status}, started ${iso(timeline.startedAt)}${took}, ${timeline.events} events`,
    ...timeline.steps.map((step) => stepLine(step, timeline)),
  ];
  if (timeline.closedAt !== undefined) {
    const offset = `+${formatMs(timeline.closedAt - timeline.startedAt)}`.padStart(10);
    const cause = timeline.failure ? `: ${formatCause(timeline.failure)}` : '';
    lines.push(`${offset}  ${STATUS_MARK[timeline.status]} workflow ${timeline.status}${cause}`);
  }
  return lines.join('\n');
}

export function showText(timelines: Timeline[]): string {
  return timelines.map(timelineText).join('\n\n') + '\n';
}

interface Message {
  at: number;
  seq: number;
  lines: string[];
}

/**
 * One sequence diagram for all the timelines. A finished step is a request that activates its peer and
 * an answer that deactivates it, so activations always balance; a pending step is an open arrow with no
 * activation. An entity's accepted Update from a workflow that is itself in the diagram is drawn once,
 * from the caller's side.
 */
export function showMermaid(timelines: Timeline[]): string {
  const shown = timelines.map((t) => t.workflowId);
  const origin = Math.min(...timelines.map((t) => t.startedAt));
  const messages: Message[] = [];
  const peers: string[] = [];
  let seq = 0;
  for (const timeline of timelines) {
    const self = timeline.workflowId;
    for (const step of timeline.steps) {
      const peer = peerOf(step, timeline);
      if (step.kind === 'update' && peer && shown.includes(peer) && peer !== self) continue;
      if (peer === CACHE) continue; // read-side plumbing: listed in text and JSON, left out of the picture
      const at = `+${formatMs(step.startedAt - origin)}`;
      const name = `${step.name}${step.count ? ` ×${step.count}` : ''}`;
      if (!peer) {
        const state =
          step.status === 'pending'
            ? `pending (${step.detail ?? ''})`
            : step.error
              ? `${step.status}: ${formatCause(step.error)}`
              : step.status;
        messages.push({
          at: step.startedAt,
          seq: seq++,
          lines: [`Note over {${self}}: ${label(`${name} ${state} ${at}`)}`],
        });
        continue;
      }
      peers.push(peer);
      // Signals and Updates come in: the peer is the sender. Everything else goes out from the workflow.
      const incoming = step.kind === 'signal' || step.kind === 'update';
      const [from, to] = incoming ? [peer, self] : [self, peer];
      if (step.kind === 'signal') {
        messages.push({
          at: step.startedAt,
          seq: seq++,
          lines: [`{${from}}-){${to}}: ${label(`${name} ${at}`)}`],
        });
        continue;
      }
      if (step.endedAt === undefined) {
        const text = `${name} ${at} pending${step.attempts > 1 ? `, attempt ${step.attempts}` : ''}`;
        const last = step.error ? ` last error ${formatCause(step.error)}` : '';
        messages.push({
          at: step.startedAt,
          seq: seq++,
          lines: [`{${from}}-){${to}}: ${label(text + last)}`],
        });
        continue;
      }
      messages.push({
        at: step.startedAt,
        seq: seq++,
        lines: [`{${from}}->>{${to}}: ${label(`${name} ${at}`)}`, `activate {${to}}`],
      });
      const ok = step.status === 'completed';
      const answer = ok
        ? `✓ ${step.detail ?? 'ok'}`
        : `✗ ${formatCause(step.error ?? { message: step.status })}`;
      messages.push({
        at: step.endedAt,
        seq: seq++,
        lines: [
          `{${to}}${ok ? '-->>' : '--x'}{${from}}: ${label(answer + attemptsText(step))}`,
          `deactivate {${to}}`,
        ],
      });
    }
    if (timeline.closedAt !== undefined) {
      const cause = timeline.failure ? ` ${formatCause(timeline.failure)}` : '';
      messages.push({
        at: timeline.closedAt,
        seq: seq++,
        lines: [
          `Note over {${self}}: ${label(`${STATUS_MARK[timeline.status]} ${timeline.status}${cause}`)}`,
        ],
      });
    }
  }
  const participants = orderParticipants(shown, peers);
  const ids = new Map(participants.map((name, index) => [name, nodeId('p', index)]));
  const resolve = (line: string) => line.replace(/\{([^}]+)\}/g, (_, name: string) => ids.get(name) ?? name);
  messages.sort((a, b) => a.at - b.at || a.seq - b.seq);
  return diagram('sequenceDiagram', [
    ...participants.map((name) => `participant ${ids.get(name)!} as ${label(name)}`),
    ...messages.flatMap((m) => m.lines.map(resolve)),
  ]);
}
