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
  releaseSeatUpdate,
  rolloverSeatSignal,
  seatAuditQuery,
  SEAT_STATUS_SEARCH_ATTRIBUTE,
  seatStateQuery,
  seatTicketQuery,
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
    throw ApplicationFailure.create({ type: failure.code, message: failure.message, nonRetryable: true });
}

export async function seatEntity(input: SeatEntityInput): Promise<SeatView> {
  const { eventId } = input;
  const seat = new SeatState(input.seatId, input.snapshot);
  // A fresh seat's version 0 is projected by whoever created the event; a continued run was projected
  // before it continued.
  let projected = seat.version;
  let rollover = false;

  // One timer per hold, never cancelled: it ends the hold if that hold is still there and due when it
  // fires (a timer cancelled in the activation where it fires is rejected by the server). Re-armed from the
  // stored expiry time in a continued run.
  const armExpiry = (expiresAt: number): void => {
    void sleep(Math.max(1, expiresAt - Date.now())).then(() => seat.expireIfDue(Date.now()));
  };
  if (seat.holdExpiresAt !== undefined) armExpiry(seat.holdExpiresAt);

  setHandler(
    holdSeatUpdate,
    (cmd) => {
      const before = seat.version;
      const view = seat.hold(cmd, Date.now());
      if (seat.version !== before && view.holdExpiresAt !== undefined) armExpiry(view.holdExpiresAt);
      return view;
    },
    {
      validator: (cmd) => rejectIf(seat.checkHold(cmd, Date.now())),
    },
  );
  setHandler(confirmSeatUpdate, (cmd) => seat.confirm(cmd), {
    validator: (cmd) => rejectIf(seat.checkConfirm(cmd, Date.now())),
  });
  setHandler(releaseSeatUpdate, (cmd) => seat.release(cmd), {
    validator: (cmd) => rejectIf(seat.checkRelease(cmd)),
  });
  setHandler(seatStateQuery, () => seat.view());
  setHandler(seatTicketQuery, () => ({ ticketId: seat.sale?.ticketId }));
  setHandler(seatAuditQuery, () => seat.audit());
  setHandler(closeSeatSignal, () => seat.close());
  setHandler(rolloverSeatSignal, () => {
    rollover = true;
  });

  const wantsNewRun = (): boolean => rollover || workflowInfo().continueAsNewSuggested;
  const wake = (): boolean => seat.version !== projected || seat.closed || wantsNewRun();

  for (;;) {
    await condition(wake);

    if (seat.version !== projected) {
      const view = seat.view();
      upsertSearchAttributes([{ key: SEAT_STATUS_SEARCH_ATTRIBUTE, value: view.status }]);
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
      if (seat.version !== projected) continue; // a handler changed the seat meanwhile: project it first
      if (seat.closed) return seat.view();
      const continueAsNew = makeContinueAsNewFunc<typeof seatEntity>({
        typedSearchAttributes: workflowInfo().typedSearchAttributes,
      });
      await continueAsNew({ eventId, seatId: seat.seatId, snapshot: seat.snapshot() });
    }
  }
}
