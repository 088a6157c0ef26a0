/**
 * The ceiling probe: a minimal workflow that runs `steps` no-op activities one after another, so its
 * history has 5 + 6 × steps events. Run with as many in flight as a drop has purchases, it measures what
 * the Temporal server and worker can do at most with that many events per workflow, whatever TicketDrop's
 * own code costs: the yardstick the drop report compares purchases per second against.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CeilingActivities } from './activities';

const { ceilingNoop } = proxyActivities<CeilingActivities>({ startToCloseTimeout: '30s' });

export const CEILING_WORKFLOW_TYPE = 'ceilingProbe';

/** History events of a probe with `steps` activities. */
export const probeEvents = (steps: number): number => 5 + 6 * steps;

export async function ceilingProbe(steps: number): Promise<number> {
  for (let step = 0; step < steps; step++) await ceilingNoop(step);
  return steps;
}
