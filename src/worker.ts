/**
 * The TicketDrop worker: runs every workflow and activity on the task queue. It keeps the read-side cache
 * whole, rebuilt from the entities whenever Redis lost it (src/cache/keeper.ts), exports its metrics when
 * TICKETDROP_WORKER_METRICS_ADDRESS is set, and it shuts down cleanly on SIGINT/SIGTERM
 * (the SDK's runtime drains in-flight tasks first). `runWorker` takes interceptors from a worker started
 * for tests (tools/faults): the production worker registers none, and carries no fault of its own.
 */
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type LogLevel,
  type WorkerInterceptors,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from './activities';
import { CacheKeeper } from './cache/keeper';
import { createRedis, waitForRedis } from './cache/redis';
import { SeatCache } from './cache/seat-cache';
import { PurchaseCache } from './cache/purchase-cache';
import { QueueCache } from './cache/queue-cache';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { waitingRoomTaskQueue } from './entities/queue/contract';
import { Knobs } from './providers/knobs';
import { Notifier } from './providers/notifier';
import { PaymentGateway } from './providers/payments';
import { ProviderStore } from './providers/store';
import { connectClient, connectNative } from './temporal/connection';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { workerMetrics } from './observe/worker-metrics';

type QueueOptions = Omit<WorkerOptions, 'connection' | 'namespace' | 'workflowBundle' | 'activities'>;

/**
 * The main task queue's slots, pollers and cache. Local activities wait on other workflows (a seat claim
 * waits for the seat entity's workflow task), and a workflow task keeps its slot until its local
 * activities are done. With too few slots the waiting claims hold every slot and the entities' tasks wait
 * for one: plenty of slots (400 by default, 4× a drop's purchases in flight), and pollers to fill them (50
 * and 20 instead of the SDK's 10 each). They are mostly idle I/O. Measurements: docs/BENCHMARKS.md.
 */
export function mainQueueTuning({ tuning }: WorkerConfig): Omit<QueueOptions, 'taskQueue'> {
  return {
    maxConcurrentLocalActivityExecutions: tuning.localActivitySlots,
    maxConcurrentActivityTaskExecutions: tuning.activitySlots,
    maxConcurrentWorkflowTaskExecutions: tuning.workflowTaskSlots,
    maxCachedWorkflows: tuning.cachedWorkflows,
    workflowThreadPoolSize: tuning.workflowThreads,
    maxConcurrentWorkflowTaskPolls: tuning.workflowTaskPolls,
    maxConcurrentActivityTaskPolls: tuning.activityTaskPolls,
    // 0 (no watchdog) needs patches/@temporalio+worker+1.24.0.patch, applied on install (patches/README.md).
    isolateExecutionTimeout: tuning.deadlockTimeoutMs,
  };
}

/**
 * The SDK's runtime: its logger, and with `metricsAddress` a Prometheus endpoint for its telemetry (task
 * latencies, slots, sticky cache, polls) and TicketDrop's own counters (src/observe/worker-metrics.ts).
 */
export function installRuntime(metricsAddress?: string): void {
  Runtime.install({
    logger: new DefaultLogger((process.env.LOG_LEVEL?.toUpperCase() ?? 'WARN') as LogLevel),
    ...(metricsAddress && {
      telemetryOptions: {
        metrics: {
          prometheus: {
            bindAddress: metricsAddress,
            countersTotalSuffix: true,
            useSecondsForDurations: true,
          },
        },
      },
    }),
  });
}

/**
 * `interceptors`: the Worker's; `clientInterceptors`: those of the client the activities send Updates with.
 */
export async function runWorker(
  options: { interceptors?: WorkerInterceptors; clientInterceptors?: WorkflowClientInterceptor[] } = {},
): Promise<void> {
  const config = loadWorkerConfig();
  installRuntime(config.metricsAddress);
  const metrics = workerMetrics(Runtime.instance().metricMeter);
  const { temporal } = config;
  const redis = createRedis(config.redis);
  const [connection, client] = await Promise.all([
    connectNative(temporal),
    connectClient(temporal, { interceptors: options.clientInterceptors }),
  ]);
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
    store,
    signingSecret: config.signingSecret,
    metrics,
  });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: new DefaultLogger('WARN'),
  });
  // One Worker per task queue this process serves (its roles).
  const serves: QueueOptions[] = [];
  if (config.roles.includes('main'))
    serves.push({ taskQueue: temporal.taskQueue, ...mainQueueTuning(config) });
  if (config.roles.includes('waiting-rooms')) {
    // The waiting rooms have a task queue of their own: a queue entity's tasks (every join batch) never
    // wait behind a drop's backlog of purchase and seat tasks. TICKETDROP_WORKER_ROLES puts them in
    // processes (or on hosts) of their own when scaling out.
    serves.push({
      taskQueue: waitingRoomTaskQueue(temporal.taskQueue),
      maxCachedWorkflows: 100,
      isolateExecutionTimeout: config.tuning.deadlockTimeoutMs,
    });
  }
  const workers = await Promise.all(
    serves.map((queue) =>
      Worker.create({
        connection,
        namespace: temporal.namespace,
        workflowBundle,
        activities,
        interceptors: options.interceptors,
        ...queue,
      }),
    ),
  );

  const running = Promise.all(workers.map((w) => w.run()));
  console.log(
    `worker ready on task queues ${serves.map((o) => `"${o.taskQueue}"`).join(' and ')} at ${temporal.address}`,
  );

  // The processes that run the seats and purchases keep the cache whole: rebuilt at the first start of a
  // stack, and again whenever Redis lost it (one rebuild at a time across them: src/cache/keeper.ts).
  const keeper = config.roles.includes('main')
    ? new CacheKeeper(
        redis,
        { client, cache, queueCache, purchaseCache },
        {
          taskQueue: temporal.taskQueue,
          onRebuild: ({ reason }) => metrics.cacheRebuilds.add(1, { reason }),
        },
      )
    : undefined;
  if (keeper)
    waitForRedis(redis)
      .then(() => keeper.start())
      .catch((err: unknown) => console.warn(`cache keeper not started: ${(err as Error).message}`));

  try {
    await running;
  } finally {
    keeper?.stop();
    store.close();
    redis.disconnect();
    await client.connection.close();
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
