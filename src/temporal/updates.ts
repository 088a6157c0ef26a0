import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { backOff } from 'exponential-backoff';

/**
 * The server's answer when a workflow task completed without the worker having seen an Update delivered
 * with it (seen under bursts of Updates on one entity). Nothing was written: sending it again is safe.
 */
const UNPROCESSED_UPDATE = 'UnprocessedUpdate';
const ATTEMPTS = 5;

/** `executeUpdate`, sent again (same update id) while the server reports it as unprocessed. */
export async function executeUpdate<Ret, Arg>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, [Arg]>,
  options: { args: [Arg]; updateId?: string },
): Promise<Ret> {
  return backOff(() => handle.executeUpdate(update, options), {
    numOfAttempts: ATTEMPTS,
    startingDelay: 20,
    retry: (err: unknown) =>
      err instanceof WorkflowUpdateFailedError &&
      err.cause instanceof ApplicationFailure &&
      err.cause.type === UNPROCESSED_UPDATE,
  });
}
