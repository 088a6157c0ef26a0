/**
 * Faults for tests, injected around the production activities by an activity interceptor, and around the
 * Updates they send by a client interceptor, that only a worker started for tests registers
 * (`tools/faults/worker.ts`). The product's worker and activities know nothing of them.
 */
import { spawn } from 'node:child_process';
import type { Context } from '@temporalio/activity';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
  Next,
} from '@temporalio/worker';
import { Type } from '@sinclair/typebox';
import { holdSeatUpdate, type HoldSeatInput } from '../../src/entities/seat/contract';
import { EnvVar, readEnv, type Env } from '../../src/lib/env';
import { SharedSetting, type ProviderStore } from '../../src/providers/store';

export interface Faults {
  /**
   * The first attempt of every seat hold loses the seat entity's answer after the hold was applied (as a
   * timed-out call would), so the retry must find the same hold.
   */
  seatAnswerLoss: boolean;
  /**
   * This process kills itself (SIGKILL) right after a seat hold was applied, before the purchase's
   * workflow task that made it completes. From the process's environment only (never stored), so it
   * cannot reach another worker.
   */
  crashAfterHold: boolean;
  /**
   * After the first hold it sends, this process stops (SIGSTOP) for this many ms, past its workflow
   * task's timeout, and goes on where it stopped: a worker starved of CPU, or paused by its host. From the
   * process's environment only, like `crashAfterHold`.
   */
  stallAfterHoldMs?: number;
  /**
   * The first send of each hold on this seat is delivered late: the send fails at once (no answer, as a
   * timed-out call), and its Update reaches the seat `delayMs` later, exactly as it was sent (its deadline
   * and send time: a request held up in the network). The purchase's retry meanwhile gets the seat's
   * answer and may move on.
   */
  lateHold?: { seatId: string; delayMs: number };
}

const FaultsEnv = Type.Object({
  TICKETDROP_FAULT_SEAT_ANSWER_LOSS: EnvVar.flag(),
  TICKETDROP_FAULT_CRASH_AFTER_HOLD: EnvVar.flag(),
  /** 0: no stall. */
  TICKETDROP_FAULT_STALL_AFTER_HOLD_MS: EnvVar.integer(0, 0, 600_000),
});

export function faultsFromEnv(env: Env = process.env): Faults {
  const e = readEnv(FaultsEnv, env);
  return {
    seatAnswerLoss: e.TICKETDROP_FAULT_SEAT_ANSWER_LOSS,
    crashAfterHold: e.TICKETDROP_FAULT_CRASH_AFTER_HOLD,
    ...(e.TICKETDROP_FAULT_STALL_AFTER_HOLD_MS > 0 && {
      stallAfterHoldMs: e.TICKETDROP_FAULT_STALL_AFTER_HOLD_MS,
    }),
  };
}

/** The faults in force: a test turns them on for every test worker through the providers' store. */
export class FaultSwitch extends SharedSetting<Faults> {
  constructor(
    store: ProviderStore,
    private readonly own: Faults = faultsFromEnv(),
  ) {
    super(store, 'test-faults', own);
  }

  override current(now = Date.now()): Faults {
    const { crashAfterHold, stallAfterHoldMs } = this.own;
    return { ...super.current(now), crashAfterHold, stallAfterHoldMs };
  }
}

/** The activity whose answer carries a seat hold: the faults strike right after it lands. */
const HOLD_ACTIVITY = 'reserveSeat';

/** The process stalls once (Faults.stallAfterHoldMs). */
let stalledOnce = false;

/** Stops this process for `ms`: a detached shell wakes it up, since a stopped process cannot. */
function stallSelf(ms: number): void {
  spawn('sh', ['-c', `sleep ${ms / 1000}; kill -CONT ${process.pid}`], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  process.kill(process.pid, 'SIGSTOP');
}

class SeatHoldFaults implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly ctx: Context,
    private readonly faults: FaultSwitch,
  ) {}

  async execute(
    input: ActivityExecuteInput,
    next: Next<ActivityInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    const { activityType, attempt } = this.ctx.info;
    const result = await next(input);
    if (activityType !== HOLD_ACTIVITY) return result;
    const faults = this.faults.current();
    if (faults.crashAfterHold) process.kill(process.pid, 'SIGKILL');
    if (faults.stallAfterHoldMs && !stalledOnce) {
      stalledOnce = true;
      stallSelf(faults.stallAfterHoldMs);
    }
    if (faults.seatAnswerLoss && attempt === 1) {
      const { seatId, holdId } = result as { seatId: string; holdId: string };
      throw new Error(`fault injected: the answer of seat ${seatId} to hold ${holdId} was lost`);
    }
    return result;
  }
}

export function faultInterceptors(faults: FaultSwitch): ActivityInterceptorsFactory {
  return (ctx) => ({ inbound: new SeatHoldFaults(ctx, faults) });
}

/** The late hold (Faults.lateHold), in the client the activities send their Updates with. */
export function lateHoldInterceptor(faults: FaultSwitch): WorkflowClientInterceptor {
  const delivered = new Set<string>();
  return {
    async startUpdate(input, next) {
      const late = faults.current().lateHold;
      const [hold] = input.args as [HoldSeatInput | undefined];
      const target =
        late &&
        input.updateName === holdSeatUpdate.name &&
        input.workflowExecution.workflowId.endsWith(`-${late.seatId}`) &&
        hold !== undefined;
      // Once per hold: the attempt after the late one is sent at once (each attempt has its own Update id).
      if (!target || delivered.has(hold.holdId)) return next(input);
      delivered.add(hold.holdId);
      setTimeout(() => void next(input).catch(() => undefined), late.delayMs);
      throw new Error(`fault injected: the hold on seat ${late.seatId} is delivered ${late.delayMs} ms late`);
    },
  };
}
