/**
 * The machine's ceiling, two ways, with as many in flight as the drop lets purchases run:
 * - the same-shape probe: minimal workflows that each cost as many history events and workflow tasks as
 *   one purchase of the drop did. It moves with the purchase: a leaner purchase gets a leaner probe.
 * - the fixed reference: minimal workflows of one shape for every drop (REFERENCE_SHAPE), so drops of
 *   different designs are measured against the same yardstick.
 * The drop report gives purchases per second as a fraction of each. The probe runs on a worker process started for it (tools/probes/ceiling/worker.ts),
 * on a task queue of its own, once the drop is over.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { DATA_DIR, localEnv } from '../../tools/dev/local-stack-file';
import { ensureDir } from '../../tools/dev/provision';
import { startNodeService } from '../../tools/dev/services';
import {
  CEILING_WORKFLOW_TYPE,
  probeEvents,
  probeShape,
  REFERENCE_SHAPE,
  type ProbeShape,
} from '../../tools/probes/ceiling/workflow';
import type { CeilingFigures } from './report';
import { readStore, storeFigures } from './store';

export async function measureCeiling(
  client: Client,
  taskQueue: string,
  perPurchase: { events: number; workflowTasks: number },
  inFlight: number,
  seconds: number,
  /** The server's metrics, for the store calls each probe cost. */
  metricsUrl?: string,
): Promise<{ sameShape: CeilingFigures; reference: CeilingFigures }> {
  const shape = probeShape(perPurchase.events, perPurchase.workflowTasks);
  const probeQueue = `${taskQueue}-ceiling`;
  const worker = await startNodeService(
    'ceiling-worker',
    'tools/probes/ceiling/worker.ts',
    /probe worker ready/,
    {
      env: { ...localEnv(), TICKETDROP_TASK_QUEUE: probeQueue },
      logFile: path.join(ensureDir(path.join(DATA_DIR, 'logs')), 'ceiling-worker.log'),
    },
  );
  try {
    const sameShape = await probe(client, probeQueue, shape, inFlight, seconds, metricsUrl);
    const reference = await probe(client, probeQueue, REFERENCE_SHAPE, inFlight, seconds, metricsUrl);
    return { sameShape, reference };
  } finally {
    await worker.stop();
  }
}

async function probe(
  client: Client,
  taskQueue: string,
  shape: ProbeShape,
  inFlight: number,
  seconds: number,
  metricsUrl: string | undefined,
): Promise<CeilingFigures> {
  const run = Date.now().toString(36);
  const deadline = Date.now() + seconds * 1000;
  let next = 0;
  let completed = 0;
  const storeBefore = await readStore(metricsUrl);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < deadline) {
        await client.workflow.execute(CEILING_WORKFLOW_TYPE, {
          workflowId: `ceiling-${run}-${next++}`,
          taskQueue,
          args: [shape],
        });
        completed++;
      }
    }),
  );
  const elapsedSec = (performance.now() - start) / 1000;
  const store = storeFigures(storeBefore, await readStore(metricsUrl), completed);
  return {
    probesPerSec: Math.round((completed / elapsedSec) * 10) / 10,
    eventsPerProbe: probeEvents(shape),
    workflowTasksPerProbe: shape.steps + 1,
    inFlight,
    store,
  };
}
