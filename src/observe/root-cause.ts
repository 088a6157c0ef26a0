/**
 * Root causes in the contract's vocabulary. A Temporal failure is a chain of wrappers (workflow → child →
 * activity → application error); the root cause is the deepest link that says something, named by its
 * failure code when it has one, else by its message with the wrapper text taken off.
 */
import type { temporal } from '@temporalio/proto';
import { isFailureCode, type FailureCode } from '../failures';

export type ProtoFailure = temporal.api.failure.v1.IFailure;

export interface Cause {
  /** The contract's failure code, when any link of the chain carries one. */
  code?: FailureCode;
  /** The root cause's message, compacted. */
  message: string;
  /** The activity or child workflow the failure came from, when it came from one. */
  source?: string;
}

/** Wrapper phrases the SDKs and the server put around a cause; they add nothing a reader needs. */
const WRAPPERS = [
  /^activity task (failed|timed out|cancell?ed)$/i,
  /^child workflow execution (failed|timed out|cancell?ed|terminated)$/i,
  /^workflow execution (failed|timed out|cancell?ed|terminated)$/i,
  /^local activity (failed|timed out|cancell?ed)$/i,
  /^(activity|workflow) (failed|cancell?ed)$/i,
];
const PREFIXES =
  /^(?:(?:ApplicationFailure|ActivityFailure|ChildWorkflowFailure|TemporalFailure|Error|Workflow execution failed|Activity task failed)\s*:\s*)+/i;

/**
 * Takes wrapper text off a message without touching what it says: "Error: Activity task failed: payment
 * timeout after 500ms (limit 100ms)" becomes "payment timeout after 500ms (limit 100ms)". Only the first
 * line counts (stack traces and SDK hints follow it).
 */
export function compactMessage(message: string | null | undefined): string {
  const line = (message ?? '').split('\n')[0]!.trim();
  return line.replace(PREFIXES, '').replace(/\s+/g, ' ').trim();
}

const isWrapper = (message: string): boolean => message === '' || WRAPPERS.some((re) => re.test(message));

const TIMEOUT_NAMES: Record<number, string> = {
  1: 'start-to-close',
  2: 'schedule-to-start',
  3: 'schedule-to-close',
  4: 'heartbeat',
};

/** Says what a timeout link means, since its own message is often just the timeout type. */
function describeTimeout(failure: ProtoFailure, source?: string): string {
  const kind = TIMEOUT_NAMES[Number(failure.timeoutFailureInfo?.timeoutType ?? 0)] ?? 'timeout';
  return `${source ?? 'step'} timed out (${kind})`;
}

/** The links of a failure chain, outermost first. */
export function chainOf(failure: ProtoFailure | null | undefined): ProtoFailure[] {
  const links: ProtoFailure[] = [];
  for (let link = failure; link && links.length < 32; link = link.cause) links.push(link);
  return links;
}

/**
 * The root cause of a failure chain: the code of the deepest link that carries one, and the message of
 * the deepest link that is not a wrapper (a timeout link is described by its kind and its activity).
 */
export function rootCause(failure: ProtoFailure | null | undefined, from?: string): Cause {
  const links = chainOf(failure);
  let code: FailureCode | undefined;
  let message = '';
  let source: string | undefined = from;
  for (const link of links) {
    const name =
      link.activityFailureInfo?.activityType?.name ??
      link.childWorkflowExecutionFailureInfo?.workflowType?.name;
    if (name) source = name;
    const type = link.applicationFailureInfo?.type;
    if (isFailureCode(type)) code = type;
    const text = link.timeoutFailureInfo ? describeTimeout(link, source) : compactMessage(link.message);
    if (!isWrapper(text)) message = text;
    else if (link.terminatedFailureInfo) message = 'terminated';
  }
  if (!message) message = code ?? (failure ? 'failed without a message' : 'no failure recorded');
  return { ...(code && { code }), message, ...(source && { source }) };
}

/** Ids (uuids, long hex) that differ per workflow would split one cause into many groups. */
const VOLATILE =
  /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b(?:[a-z]+_)?[0-9a-f]{16,}\b/gi;

/** The grouping key of a cause: its failure code, else its compacted message with per-run ids masked. */
export function groupKey(cause: Cause): string {
  return cause.code ?? cause.message.replace(VOLATILE, '…');
}

/** One line for a person: "PAYMENT_DECLINED: card declined (charge ch_…)". */
export function formatCause(cause: Cause): string {
  if (!cause.code) return cause.message;
  return cause.message && cause.message !== cause.code ? `${cause.code}: ${cause.message}` : cause.code;
}
