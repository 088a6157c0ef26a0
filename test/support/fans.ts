/**
 * Simulated fans for waiting-room tests: each joins, polls at the pace the API asks (capped so tests
 * stay short), buys when admitted (unless it abandons) and follows its purchase to the end. Every answer
 * it saw is kept, so tests check what fans were told.
 */
import type { Stack } from './stack';
import { fanToken, finalStatus, startPurchase, type PurchaseView } from './stack';

export interface QueueAnswer {
  fanId: string;
  state: string;
  position: number;
  admittedThrough: number;
  ahead: number;
  pollAfterMs: number;
  longPollMs?: number;
  admission?: { expiresAt: string };
  purchaseId?: string;
}

export interface FanPlan {
  fanId: string;
  paymentToken?: string;
  /** Admitted but never buys. */
  abandon?: boolean;
  /** Longest pause between polls, whatever the API asks. */
  maxPollMs?: number;
}

export interface FanRecord {
  fanId: string;
  joinStatus: number;
  /** The fan's token (from the dev issuer). */
  token: string;
  /** Position when the fan first had one (pre-queue fans get theirs at opening). */
  position: number;
  admittedAt?: number;
  admission?: { expiresAt: string };
  purchase?: PurchaseView;
  final: QueueAnswer;
  answers: QueueAnswer[];
}

const FINAL_STATES = ['done', 'expired', 'sold-out'];

export async function joinQueue(
  stack: Stack,
  eventId: string,
  fanId: string,
): Promise<{ statusCode: number; body: QueueAnswer; token: string }> {
  const token = await fanToken(fanId);
  const response = await stack.app.inject({
    method: 'POST',
    url: `/events/${eventId}/queue`,
    headers: { authorization: `Bearer ${token}` },
  });
  return { statusCode: response.statusCode, body: response.json(), token };
}

export async function queueMe(stack: Stack, eventId: string, token: string): Promise<QueueAnswer> {
  const response = await stack.app.inject({
    url: `/events/${eventId}/queue/me`,
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.statusCode !== 200) throw new Error(`queue/me: ${response.statusCode} ${response.body}`);
  return response.json() as QueueAnswer;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one fan from join to a final queue state (or throws after `timeoutMs`). */
export async function runFan(
  stack: Stack,
  eventId: string,
  plan: FanPlan,
  timeoutMs = 90_000,
): Promise<FanRecord> {
  const deadline = Date.now() + timeoutMs;
  const joined = await joinQueue(stack, eventId, plan.fanId);
  if (joined.statusCode !== 200 && joined.statusCode !== 202)
    throw new Error(`join ${plan.fanId}: ${joined.statusCode} ${JSON.stringify(joined.body)}`);
  const record: FanRecord = {
    fanId: plan.fanId,
    joinStatus: joined.statusCode,
    token: joined.token,
    position: joined.body.position,
    final: joined.body,
    answers: [joined.body],
  };
  let answer: QueueAnswer = joined.body;
  for (;;) {
    if (record.position === 0 && answer.position > 0) record.position = answer.position;
    if (answer.state === 'admitted' && record.admittedAt === undefined) {
      record.admittedAt = Date.now();
      record.admission = answer.admission;
      if (!plan.abandon) {
        const started = await startPurchase(stack, eventId, {
          fanId: plan.fanId,
          paymentToken: plan.paymentToken ?? 'tok_ok',
        });
        if (started.statusCode === 202 || started.statusCode === 200) {
          record.purchase = await finalStatus(stack, started);
        }
      }
    }
    if (FINAL_STATES.includes(answer.state)) break;
    if (Date.now() > deadline) throw new Error(`${plan.fanId} still ${answer.state} after ${timeoutMs} ms`);
    await pause(Math.min(answer.pollAfterMs || 100, plan.maxPollMs ?? 250));
    answer = await queueMe(stack, eventId, record.token);
    record.answers.push(answer);
  }
  record.final = answer;
  return record;
}
