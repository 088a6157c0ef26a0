/**
 * The ceiling probe: a minimal workflow shaped like one purchase's share of a drop: `steps` no-op
 * activities one after another (one workflow task each) and `markers` no-op local activities (one history
 * event each, no task of their own). Its history has 5 + 6 × steps + markers events and steps + 1
 * workflow tasks. Run with as many in flight as a drop has purchases, it measures what the Temporal server
 * and worker can do at most at that cost, whatever TicketDrop's own code adds: the yardstick the drop
 * report compares purchases per second against.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { CeilingActivities } from './activities';

const { ceilingNoop } = proxyActivities<CeilingActivities>({ startToCloseTimeout: '30s' });
const local = proxyLocalActivities<CeilingActivities>({ startToCloseTimeout: '30s' });

export const CEILING_WORKFLOW_TYPE = 'ceilingProbe';

export interface ProbeShape {
  steps: number;
  markers: number;
}

/**
 * The fixed reference: one activity and one local activity, 12 history events and 2 workflow tasks,
 * whatever the purchase costs. Never change it: drops are compared by it across designs.
 */
export const REFERENCE_SHAPE: ProbeShape = { steps: 1, markers: 1 };

/** History events of a probe of this shape. */
export const probeEvents = ({ steps, markers }: ProbeShape): number => 5 + 6 * steps + markers;

/** The probe shape closest to a given number of history events and workflow tasks. */
export function probeShape(events: number, workflowTasks: number): ProbeShape {
  let steps = Math.max(0, Math.round(workflowTasks) - 1);
  while (steps > 0 && 5 + 6 * steps > events) steps--;
  return { steps, markers: Math.max(0, Math.round(events - 5 - 6 * steps)) };
}

export async function ceilingProbe({ steps, markers }: ProbeShape): Promise<number> {
  for (let step = 0; step < steps; step++) {
    await ceilingNoop(step);
    // Spread the markers over the tasks, as a purchase records its local activities along the way.
    const here = Math.floor(((step + 1) * markers) / steps) - Math.floor((step * markers) / steps);
    for (let m = 0; m < here; m++) await local.ceilingNoop(m);
  }
  if (steps === 0) for (let m = 0; m < markers; m++) await local.ceilingNoop(m);
  return steps;
}
