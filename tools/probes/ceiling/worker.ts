/**
 * The ceiling probe's worker: started by the drop simulator for its measurement only (loadtest/drop/
 * ceiling.ts), never by `npm start` or a deployment, so the probe is not in the production worker's
 * bundle. It polls a task queue of its own with the production worker's tuning of the main queue, so the
 * probe measures what a TicketDrop worker process and the Temporal server can do.
 */
import { Worker } from '@temporalio/worker';
import { loadWorkerConfig } from '../../../src/config';
import { connectNative } from '../../../src/temporal/connection';
import { installRuntime, mainQueueTuning } from '../../../src/worker';
import { createCeilingActivities } from './activities';

async function main(): Promise<void> {
  installRuntime();
  const config = loadWorkerConfig();
  const connection = await connectNative(config.temporal);
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('./workflow'),
      activities: createCeilingActivities(),
      ...mainQueueTuning(config),
    });
    const running = worker.run();
    console.log(`probe worker ready on task queue "${config.temporal.taskQueue}"`);
    await running;
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
