/**
 * The seat entity on a real Temporal dev server, with the real worker projecting into real Redis.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  confirmSeatUpdate,
  holdSeatUpdate,
  releaseSeatUpdate,
  rolloverSeatSignal,
  SEAT_WORKFLOW_TYPE,
  seatStateQuery,
  seatWorkflowId,
  type SeatEntityInput,
  type SeatView,
} from '../../src/entities/seat/contract';
import { executeUpdate } from '../../src/temporal/updates';
import { eventually, openStack, uniqueId, type Stack } from '../support/stack';

const EventType = temporal.api.enums.v1.EventType;

let stack: Stack;
beforeAll(async () => {
  stack = await openStack();
});
afterAll(async () => stack.close());

async function startSeat(eventId: string, seatId = 'A1'): Promise<WorkflowHandle> {
  const args: [SeatEntityInput] = [{ eventId, seatId }];
  return stack.client.workflow.start(SEAT_WORKFLOW_TYPE, {
    workflowId: seatWorkflowId(eventId, seatId),
    taskQueue: stack.config.temporal.taskQueue,
    args,
  });
}

// Sent the way the purchase saga sends it (src/temporal/updates.ts).
const hold = (handle: WorkflowHandle, holdId: string, ttlMs = 60_000) =>
  executeUpdate(handle, holdSeatUpdate, {
    args: [{ holdId, purchaseId: `p-${holdId}`, ttlMs }],
    updateId: `hold-${holdId}`,
  });

/** The failure type a rejected update carries (the contract's failure code). */
async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
      return err.cause.type ?? '';
    throw err;
  }
  throw new Error('expected the update to be rejected');
}

async function historyCount(handle: WorkflowHandle, type: number, runId?: string): Promise<number> {
  const history = await stack.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
  return (history.events ?? []).filter((e) => e.eventType === type).length;
}

async function newRun(handle: WorkflowHandle, previousRunId: string): Promise<string> {
  return eventually(
    async () => {
      const { runId } = await stack.client.workflow.getHandle(handle.workflowId).describe();
      return runId !== previousRunId ? runId : undefined;
    },
    15_000,
    'continue-as-new',
  );
}

describe('seat entity', () => {
  it('accepts exactly one of 200 concurrent holds; the others are SEAT_TAKEN and leave no history', async () => {
    const eventId = uniqueId('race');
    const handle = await startSeat(eventId);
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => hold(handle, `h${i}`)));

    const accepted = outcomes.filter((o) => o.status === 'fulfilled');
    expect(accepted).toHaveLength(1);
    const codes = await Promise.all(
      outcomes
        .filter((o) => o.status === 'rejected')
        .map((o) => rejection(Promise.reject((o as PromiseRejectedResult).reason))),
    );
    expect(codes).toHaveLength(199);
    expect(new Set(codes)).toEqual(new Set(['SEAT_TAKEN']));

    expect(await historyCount(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)).toBe(1);
    const state = await handle.query(seatStateQuery);
    expect(state).toMatchObject({ status: 'held', version: 1 });
    await eventually(async () =>
      (await stack.cache.getSeat(eventId, 'A1'))?.status === 'held' ? true : undefined,
    );
  });

  it('expires a short hold: the seat is available again in the entity and in Redis; a late confirm is HOLD_EXPIRED', async () => {
    const eventId = uniqueId('expiry');
    const handle = await startSeat(eventId);
    const held = await hold(handle, 'short', 1_000);
    expect(held.status).toBe('held');

    const after = await eventually(async () => {
      const view = await handle.query(seatStateQuery);
      return view.status === 'available' ? view : undefined;
    });
    expect(after.version).toBe(2);
    const cached = await eventually(async () => {
      const view = await stack.cache.getSeat(eventId, 'A1');
      return view?.version === 2 ? view : undefined;
    });
    expect(cached.status).toBe('available');
    expect(await stack.cache.getCounts(eventId)).toEqual({ available: 1, held: 0, sold: 0 });

    const late = handle.executeUpdate(confirmSeatUpdate, { args: [{ holdId: 'short', ticketId: 't1' }] });
    expect(await rejection(late)).toBe('HOLD_EXPIRED');
    expect((await handle.query(seatStateQuery)).version).toBe(2);
  });

  it('answers a claim whose caller projects it without a projection of its own, and still projects the expiry', async () => {
    const eventId = uniqueId('caller-projects');
    const handle = await startSeat(eventId);
    // Local activity markers only (a run also records its patch markers).
    const markers = async () => {
      const { events } = await handle.fetchHistory();
      return (events ?? []).filter(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      ).length;
    };
    const held = await executeUpdate(handle, holdSeatUpdate, {
      args: [{ holdId: 'mine', purchaseId: 'p-mine', ttlMs: 4_000, callerProjects: true }],
      updateId: 'hold-mine',
    });
    expect(held).toMatchObject({ status: 'held', version: 1 });
    // The answering task ran no projection (a local activity leaves a marker); the caller's is the write.
    expect(await markers()).toBe(0);
    expect(await stack.cache.getSeat(eventId, 'A1')).toBeUndefined();
    // The SeatStatus search attribute is still the entity's to keep: `temporal workflow list` finds it held.
    const listed = await eventually(async () => {
      const query = `WorkflowId = '${handle.workflowId}' AND SeatStatus = 'held'`;
      for await (const wf of stack.client.workflow.list({ query })) return wf.workflowId;
      return undefined;
    });
    expect(listed).toBe(handle.workflowId);

    // The expiry nobody else sees is the entity's to project.
    const cached = await eventually(async () => {
      const view = await stack.cache.getSeat(eventId, 'A1');
      return view?.version === 2 ? view : undefined;
    });
    expect(cached.status).toBe('available');
    expect(await markers()).toBe(1);
  });

  it('returns the first outcome for repeated commands, also across a forced continue-as-new', async () => {
    const eventId = uniqueId('idem');
    const handle = await startSeat(eventId);
    const { runId: firstRun } = await handle.describe();

    const held = await hold(handle, 'h1');
    expect(await hold(handle, 'h1')).toEqual(held); // same run: Temporal's update id dedup

    await handle.signal(rolloverSeatSignal);
    const secondRun = await newRun(handle, firstRun);
    expect(await hold(handle, 'h1')).toEqual(held); // new run: the entity's carried-over outcomes
    expect(await rejection(hold(handle, 'h2'))).toBe('SEAT_TAKEN'); // the hold itself carried over

    const confirmed = await handle.executeUpdate(confirmSeatUpdate, {
      args: [{ holdId: 'h1', ticketId: 't1' }],
      updateId: 'c1',
    });
    expect(confirmed).toEqual({ seatId: 'A1', status: 'sold', version: 2 });

    await handle.signal(rolloverSeatSignal);
    await newRun(handle, secondRun);
    const again = await handle.executeUpdate(confirmSeatUpdate, {
      args: [{ holdId: 'h1', ticketId: 't1' }],
      updateId: 'c1',
    });
    expect(again).toEqual(confirmed);
    expect(await hold(handle, 'h1')).toEqual(held);
    expect(await handle.query(seatStateQuery)).toEqual({ seatId: 'A1', status: 'sold', version: 2 });
    // The repeats wrote nothing: the new run accepted them but did not change the seat.
    const cached = await eventually(async () => {
      const view = await stack.cache.getSeat(eventId, 'A1');
      return view?.version === 2 ? view : undefined;
    });
    expect(cached.status).toBe('sold');
  });

  it('rejects invalid transitions with typed failures and leaves the seat unchanged', async () => {
    const eventId = uniqueId('invalid');
    const handle = await startSeat(eventId);
    await hold(handle, 'holder');

    expect(
      await rejection(
        handle.executeUpdate(confirmSeatUpdate, { args: [{ holdId: 'intruder', ticketId: 't' }] }),
      ),
    ).toBe('NOT_HOLDER');
    expect(await rejection(handle.executeUpdate(releaseSeatUpdate, { args: [{ holdId: 'intruder' }] }))).toBe(
      'NOT_HOLDER',
    );
    expect(await rejection(hold(handle, 'bad-ttl', 1))).toBe('VALIDATION');

    await handle.executeUpdate(confirmSeatUpdate, { args: [{ holdId: 'holder', ticketId: 't' }] });
    expect(await rejection(hold(handle, 'late'))).toBe('SEAT_TAKEN');
    expect(await rejection(handle.executeUpdate(releaseSeatUpdate, { args: [{ holdId: 'holder' }] }))).toBe(
      'SEAT_SOLD',
    );

    const view: SeatView = await handle.query(seatStateQuery);
    expect(view).toEqual({ seatId: 'A1', status: 'sold', version: 2 });
    expect(await historyCount(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)).toBe(2);
  });

  it('keeps the SeatStatus search attribute current for `temporal workflow list`', async () => {
    const eventId = uniqueId('search');
    const handle = await startSeat(eventId, 'B7');
    await hold(handle, 'sa');
    const found = await eventually(async () => {
      const ids: string[] = [];
      for await (const wf of stack.client.workflow.list({
        query: `WorkflowId = '${handle.workflowId}' AND SeatStatus = 'held'`,
      })) {
        ids.push(wf.workflowId);
      }
      return ids.length ? ids : undefined;
    });
    expect(found).toEqual([handle.workflowId]);
  });
});
