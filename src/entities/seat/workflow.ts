/**
 * The seat entity: wiring only. State and rules live in `state.ts`; this file binds the Updates to it
 * (validators reject losing claims, so they write no history), keeps hold expiry armed from the stored
 * expiry time, projects every transition to the read-side cache, and continues as new when suggested.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Failure } from '../../failures';
import type { SeatActivities } from './activities';
import {
  closeSeatSignal,
  confirmSeatUpdate,
  holdSeatUpdate,
  redeemTicketUpdate,
  releaseSeatUpdate,
  rolloverSeatSignal,
  seatAuditQuery,
  SEAT_STATUS_SEARCH_ATTRIBUTE,
  seatStateQuery,
  seatTicketQuery,
  type CallerProjects,
  type SeatEntityInput,
  type SeatView,
} from './contract';
import { SeatState } from './state';

const { projectSeat } = proxyLocalActivities<SeatActivities>({
  startToCloseTimeout: '5s',
  retry: { initialInterval: '200ms', maximumInterval: '2s', maximumAttempts: 5 },
});

function rejectIf(failure: Failure | undefined): void {
  if (failure)
    throw ApplicationFailure.create({
      type: failure.code,
      message: failure.message,
      nonRetryable: true,
      details: failure.details && [failure.details],
    });
}

export async function seatEntity(input: SeatEntityInput): Promise<SeatView> {
  const { eventId } = input;
  const seat = new SeatState(input.seatId, input.snapshot, { reholdGone: patched('seat-rehold-gone') });
  // Asked once, before any command of the run, so the marker's place never depends on timing. Before it,
  // the loop below upserted SeatStatus as soon as an Update woke it: between two Update answers of one task
  // when the Updates came in a task of their own, after both when they came with the run's first job (a
  // worker lost before the task): a replay delivers them apart, and failed on the second kind.
  const afterAnswers = patched('seat-commands-after-answers');
  // A fresh seat's version 0 is projected by whoever created the event; a continued run was projected
  // before it continued.
  let projected = seat.version;
  // The version whose status the SeatStatus search attribute shows (a command: it never holds a task).
  let listed = seat.version;
  let rollover = false;

  // One timer per hold, never cancelled: it ends the hold if that hold is still there and due when it
  // fires (a timer cancelled in the activation where it fires is rejected by the server). Re-armed from the
  // stored expiry time in a continued run.
  const armExpiry = (expiresAt: number): void => {
    void sleep(Math.max(1, expiresAt - Date.now())).then(() => seat.expireIfDue(Date.now()));
  };
  if (seat.holdExpiresAt !== undefined) armExpiry(seat.holdExpiresAt);

  // A caller that projects the answer itself takes this version off the entity's hands, so the answer
  // leaves with this workflow task instead of waiting for a projection. Only when nothing else changed
  // the seat since it was last projected: a version the caller does not see stays the entity's job.
  const answered = (cmd: CallerProjects, before: number, view: SeatView): SeatView => {
    if (cmd.callerProjects && projected === before && view.version === before + 1) projected = view.version;
    return view;
  };
  setHandler(
    holdSeatUpdate,
    (cmd) => {
      const before = seat.version;
      const view = seat.hold(cmd, Date.now());
      if (seat.version !== before && view.holdExpiresAt !== undefined) armExpiry(view.holdExpiresAt);
      return answered(cmd, before, view);
    },
    {
      validator: (cmd) => rejectIf(seat.checkHold(cmd, Date.now())),
    },
  );
  setHandler(confirmSeatUpdate, (cmd) => answered(cmd, seat.version, seat.confirm(cmd, Date.now())), {
    validator: (cmd) => rejectIf(seat.checkConfirm(cmd, Date.now())),
  });
  setHandler(releaseSeatUpdate, (cmd) => answered(cmd, seat.version, seat.release(cmd, Date.now())), {
    validator: (cmd) => rejectIf(seat.checkRelease(cmd)),
  });
  setHandler(redeemTicketUpdate, (cmd) => seat.redeem(cmd, Date.now()), {
    validator: (cmd) => rejectIf(seat.checkRedeem(cmd)),
  });
  setHandler(seatStateQuery, () => seat.view());
  setHandler(seatTicketQuery, () => ({ ticketId: seat.sale?.ticketId, usedAt: seat.sale?.usedAt }));
  setHandler(seatAuditQuery, () => seat.audit());
  setHandler(closeSeatSignal, () => seat.close());
  setHandler(rolloverSeatSignal, () => {
    rollover = true;
  });

  const wantsNewRun = (): boolean => rollover || workflowInfo().continueAsNewSuggested;
  const wake = (): boolean =>
    seat.version !== listed || seat.version !== projected || seat.closed || wantsNewRun();

  for (;;) {
    await condition(wake);
    // Every Update of this activation answered first: the loop's commands then follow them, however the
    // Updates were grouped into activations.
    if (afterAnswers) await condition(allHandlersFinished);

    if (seat.version !== listed) {
      upsertSearchAttributes([{ key: SEAT_STATUS_SEARCH_ATTRIBUTE, value: seat.view().status }]);
      listed = seat.version;
    }
    if (seat.version !== projected) {
      const view = seat.view();
      try {
        await projectSeat({ eventId, view });
      } catch (err) {
        // The cache is only a cache: the next transition or a rebuild brings it back in line.
        log.warn('seat projection failed', { eventId, seatId: view.seatId, version: view.version, err });
      }
      projected = view.version;
    }

    if (seat.closed || wantsNewRun()) {
      await condition(allHandlersFinished);
      // A handler changed the seat meanwhile: list and project it first.
      if (seat.version !== projected || seat.version !== listed) continue;
      if (seat.closed) return seat.view();
      const continueAsNew = makeContinueAsNewFunc<typeof seatEntity>({
        typedSearchAttributes: workflowInfo().typedSearchAttributes,
      });
      await continueAsNew({ eventId, seatId: seat.seatId, snapshot: seat.snapshot() });
    }
  }
}
