/**
 * `workflow list --failed`: failed workflows with their root cause, optionally grouped (count, share,
 * first and last seen). One visibility query plus one close-event read per workflow.
 */
import type { Client } from '@temporalio/client';
import { chainOf, formatCause, groupKey, rootCause, type Cause } from './root-cause';
import { diagram, label } from './mermaid';
import { fetchCloseEvent, InspectError, listWorkflows, UsageError, type ListedWorkflow } from './visibility';
import { mapLimit } from '../lib/concurrency';

/** `--status` values and the visibility status each one means. */
export const FAILED_STATUSES = {
  failed: 'Failed',
  'timed-out': 'TimedOut',
  terminated: 'Terminated',
  canceled: 'Canceled',
} as const;
export type FailedStatus = keyof typeof FAILED_STATUSES;

export const GROUP_KEYS = ['error', 'type', 'status'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export interface ListFailedOptions {
  /** Only workflows closed within this many ms. */
  sinceMs?: number;
  statuses?: FailedStatus[];
  /** Only this event's workflows (its EventId search attribute). */
  eventId?: string;
  /** Only this workflow type. */
  type?: string;
  followChildren?: boolean;
  leafOnly?: boolean;
  compactErrors?: boolean;
  errorContains?: string;
  limit?: number;
  now?: number;
}

export interface FailedWorkflow {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  closedAt?: string;
  eventId?: string;
  /** The root cause, in the contract's vocabulary when it has a code. */
  rootCause: Cause;
  /** Where the root cause happened: this workflow, or a failed child it was followed to. */
  rootWorkflowId: string;
  /** The error as shown: the whole chain, or only the root cause with `--compact-errors`. */
  error: string;
  /** True when the failure came from a failed child workflow. */
  childFailure: boolean;
}

export interface FailureGroup {
  key: string;
  count: number;
  percent: number;
  firstSeen?: string;
  lastSeen?: string;
  /** One workflow of the group, to look at with `workflow show --compact`. */
  example: string;
}

export interface ListFailedResult {
  query: string;
  /** Failures matching every filter (more than listed when `limit` cut the list). */
  total: number;
  failures: FailedWorkflow[];
}

export const DEFAULT_LIMIT = 1000;
/** How many failures a filtered listing reads at most before filtering. */
const FILTER_READ_LIMIT = 5000;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "5m", "2h", "1d", "500ms" → milliseconds (the CLI's and the API's `since`). */
export function parseSince(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new UsageError(`--since must look like 30s, 5m, 2h or 1d, got "${text}"`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

export function buildQuery(options: ListFailedOptions): string {
  const statuses = (
    options.statuses?.length ? options.statuses : (['failed', 'timed-out', 'terminated'] as const)
  )
    .map((s) => `'${FAILED_STATUSES[s]}'`)
    .join(', ');
  const parts = [`ExecutionStatus IN (${statuses})`];
  if (options.sinceMs !== undefined) {
    // A window longer than time itself means "since the beginning", not an invalid date.
    const from = Math.max(0, (options.now ?? Date.now()) - options.sinceMs);
    parts.push(`CloseTime > '${new Date(from).toISOString()}'`);
  }
  if (options.eventId) parts.push(`EventId = ${JSON.stringify(options.eventId)}`);
  if (options.type) parts.push(`WorkflowType = ${JSON.stringify(options.type)}`);
  return parts.join(' AND ');
}

/** The whole chain, outermost first, each link's first line (what the plain CLI would print). */
function chainText(failure: Parameters<typeof chainOf>[0]): string {
  return chainOf(failure)
    .map((link) => (link.message ?? '').split('\n')[0]!.trim())
    .filter(Boolean)
    .join(': ');
}

async function inspectOne(
  client: Client,
  row: ListedWorkflow,
  options: ListFailedOptions,
): Promise<FailedWorkflow> {
  const close = await fetchCloseEvent(client, row.workflowId, row.runId);
  const failure = close?.workflowExecutionFailedEventAttributes?.failure ?? undefined;
  let cause: Cause = rootCause(failure);
  if (row.status === 'TERMINATED') {
    const reason = close?.workflowExecutionTerminatedEventAttributes?.reason;
    cause = { message: reason ? `terminated: ${reason}` : 'terminated' };
  } else if (row.status === 'TIMED_OUT') cause = { message: 'workflow timed out' };
  else if (row.status === 'CANCELLED') cause = { message: 'workflow cancelled' };
  const links = chainOf(failure);
  const child = links.find(
    (link) => link.childWorkflowExecutionFailureInfo,
  )?.childWorkflowExecutionFailureInfo;
  let rootWorkflowId = row.workflowId;
  if (options.followChildren && child?.workflowExecution?.workflowId) {
    // The child's own close event carries its full chain (the parent's copy may be cut short).
    const followed = await inspectOne(
      client,
      {
        ...row,
        workflowId: child.workflowExecution.workflowId,
        runId: child.workflowExecution.runId ?? '',
        status: 'FAILED',
      },
      options,
    );
    cause = followed.rootCause;
    rootWorkflowId = followed.rootWorkflowId;
  }
  const chain = chainText(failure);
  const error =
    options.compactErrors || !chain ? formatCause(cause) : cause.code ? `${cause.code}: ${chain}` : chain;
  return {
    workflowId: row.workflowId,
    runId: row.runId,
    type: row.type,
    status: row.status,
    ...(row.closedAt !== undefined && { closedAt: new Date(row.closedAt).toISOString() }),
    ...(row.eventId && { eventId: row.eventId }),
    rootCause: cause,
    rootWorkflowId,
    error,
    childFailure: Boolean(child),
  };
}

export async function listFailed(client: Client, options: ListFailedOptions): Promise<ListFailedResult> {
  const query = buildQuery(options);
  const limit = options.limit ?? DEFAULT_LIMIT;
  // Filters the query cannot express are applied here, so read beyond the limit before cutting to it.
  const filtered = Boolean(options.leafOnly || options.errorContains);
  const { rows, total } = await listWorkflows(
    client,
    query,
    filtered ? Math.max(limit, FILTER_READ_LIMIT) : limit,
  );
  let failures = await mapLimit(rows, 16, (row) => inspectOne(client, row, options));
  if (options.leafOnly) failures = failures.filter((f) => !f.childFailure);
  if (options.errorContains) {
    const needle = options.errorContains.toLowerCase();
    failures = failures.filter((f) =>
      [f.rootCause.code ?? '', f.rootCause.message, f.error].some((text) =>
        text.toLowerCase().includes(needle),
      ),
    );
  }
  const matching = filtered && rows.length === total ? failures.length : total;
  return { query, total: matching, failures: failures.slice(0, limit) };
}

export function groupFailures(failures: FailedWorkflow[], by: GroupKey): FailureGroup[] {
  const groups = new Map<string, FailedWorkflow[]>();
  for (const failure of failures) {
    const key = by === 'error' ? groupKey(failure.rootCause) : by === 'type' ? failure.type : failure.status;
    groups.set(key, [...(groups.get(key) ?? []), failure]);
  }
  return [...groups.entries()]
    .map(([key, members]) => {
      const times = members
        .map((m) => m.closedAt)
        .filter((t): t is string => Boolean(t))
        .sort();
      return {
        key,
        count: members.length,
        percent: Math.round((members.length / failures.length) * 1000) / 10,
        ...(times.length && { firstSeen: times[0], lastSeen: times.at(-1) }),
        example: members[0]!.workflowId,
      };
    })
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** Failing when nothing matched: the caller says so and exits non-zero. */
export function assertSomeFailures(result: ListFailedResult, window: string): void {
  if (result.failures.length === 0) throw new InspectError(`no failed workflows ${window}`);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function failuresText(result: ListFailedResult): string {
  const rows = result.failures.map((f) => [f.workflowId, f.type, f.status, f.closedAt ?? '', f.error]);
  const more =
    result.total > result.failures.length
      ? `\n(${result.failures.length} shown of ${result.total} matching)`
      : '';
  return `${table(['WORKFLOW ID', 'TYPE', 'STATUS', 'CLOSED', 'ERROR'], rows)}${more}\n`;
}

export function groupsText(groups: FailureGroup[], by: GroupKey, total: number): string {
  const rows = groups.map((g) => [
    String(g.count),
    `${g.percent.toFixed(1)}%`,
    g.firstSeen ?? '',
    g.lastSeen ?? '',
    g.key,
  ]);
  return `${table(['COUNT', 'SHARE', 'FIRST SEEN', 'LAST SEEN', by.toUpperCase()], rows)}\n${total} failed workflows\n`;
}

export function groupsMermaid(groups: FailureGroup[], title: string): string {
  return diagram(
    `pie title ${label(title)}`,
    groups.map((g) => `"${label(g.key)}" : ${g.count}`),
  );
}
