/**
 * The TicketDrop worker: runs every workflow and activity on the task queue. At start it rebuilds the
 * read-side cache from the entities (Redis is only a cache), and it shuts down cleanly on SIGINT/SIGTERM
 * (the SDK drains in-flight tasks first).
 */
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type LogLevel,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from './activities';
import { rebuildAll } from './cache/rebuild';
import { createRedis, waitForRedis } from './cache/redis';
import { SeatCache } from './cache/seat-cache';
import { PurchaseCache } from './cache/purchase-cache';
import { QueueCache } from './cache/queue-cache';
import { loadWorkerConfig } from './config';
import { waitingRoomTaskQueue } from './entities/queue/contract';
import { Knobs } from './providers/knobs';
import { Notifier } from './providers/notifier';
import { PaymentGateway } from './providers/payments';
import { ProviderStore } from './providers/store';
import { connectClient, connectNative } from './temporal/connection';

async function main(): Promise<void> {
  Runtime.install({
    logger: new DefaultLogger((process.env.LOG_LEVEL?.toUpperCase() ?? 'WARN') as LogLevel),
  });
  const config = loadWorkerConfig();
  const { temporal } = config;
  const redis = createRedis(config.redis);
  const [connection, client] = await Promise.all([connectNative(temporal), connectClient(temporal)]);
  const cache = new SeatCache(redis);
  const queueCache = new QueueCache(redis);
  const purchaseCache = new PurchaseCache(redis);
  const store = new ProviderStore(config.providersDb);
  const knobs = new Knobs(store);

  const activities = createActivities({
    client,
    seatCache: cache,
    purchaseCache,
    queueCache,
    taskQueue: temporal.taskQueue,
    payments: new PaymentGateway(store, knobs),
    notifier: new Notifier(store, knobs),
    knobs,
    store,
    signingSecret: config.signingSecret,
  });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: new DefaultLogger('WARN'),
  });
  // One Worker per task queue this process serves (its roles).
  const serves: Omit<WorkerOptions, 'connection' | 'namespace' | 'workflowBundle' | 'activities'>[] = [];
  if (config.roles.includes('main')) {
    serves.push({
      taskQueue: temporal.taskQueue,
      // Local activities wait on other workflows (a seat claim waits for the seat entity's workflow task),
      // and a workflow task keeps its slot until its local activities are done. With too few slots the
      // waiting claims hold every slot and the entities' tasks wait for one: plenty of slots (400 by
      // default, 4× a drop's purchases in flight), and pollers to fill them (50 and 20 instead of the
      // SDK's 10 each). They are mostly idle I/O. Measurements: docs/BENCHMARKS.md.
      maxConcurrentLocalActivityExecutions: config.tuning.localActivitySlots,
      maxConcurrentActivityTaskExecutions: config.tuning.activitySlots,
      maxConcurrentWorkflowTaskExecutions: config.tuning.workflowTaskSlots,
      maxCachedWorkflows: config.tuning.cachedWorkflows,
      workflowThreadPoolSize: config.tuning.workflowThreads,
      maxConcurrentWorkflowTaskPolls: config.tuning.workflowTaskPolls,
      maxConcurrentActivityTaskPolls: config.tuning.activityTaskPolls,
    });
  }
  if (config.roles.includes('waiting-rooms')) {
    // The waiting rooms have a task queue of their own: a queue entity's tasks (every join batch) never
    // wait behind a drop's backlog of purchase and seat tasks. TICKETDROP_WORKER_ROLES puts them in
    // processes (or on hosts) of their own when scaling out.
    serves.push({ taskQueue: waitingRoomTaskQueue(temporal.taskQueue), maxCachedWorkflows: 100 });
  }
  const workers = await Promise.all(
    serves.map((options) =>
      Worker.create({
        connection,
        namespace: temporal.namespace,
        workflowBundle,
        activities,
        // 0 (no watchdog) needs patches/@temporalio+worker+1.24.0.patch, applied on install
        // (patches/README.md).
        isolateExecutionTimeout: config.tuning.deadlockTimeoutMs,
        ...options,
      }),
    ),
  );

  const running = Promise.all(workers.map((w) => w.run()));
  console.log(
    `worker ready on task queues ${serves.map((o) => `"${o.taskQueue}"`).join(' and ')} at ${temporal.address}`,
  );

  // The cache is rebuilt once per stack: by the process that runs the seats and purchases.
  if (config.roles.includes('main'))
    waitForRedis(redis)
      .then(() => rebuildAll({ client, cache, queueCache, purchaseCache }))
      .then(({ events, seats }) => console.log(`cache rebuilt: ${events} events, ${seats} seats`))
      .catch((err: unknown) => console.warn(`cache rebuild skipped: ${(err as Error).message}`));

  try {
    await running;
  } finally {
    store.close();
    redis.disconnect();
    await client.connection.close();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
