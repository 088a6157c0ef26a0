/**
 * The worker the tests run: the production worker (src/worker.ts) with the test faults' interceptor
 * around its activities. Never started by `npm start` or a deployment.
 */
import { loadWorkerConfig } from '../../src/config';
import { ProviderStore } from '../../src/providers/store';
import { runWorker } from '../../src/worker';
import { faultInterceptors, FaultSwitch } from './faults';

const store = new ProviderStore(loadWorkerConfig().providersDb);
runWorker({ interceptors: { activity: [faultInterceptors(new FaultSwitch(store))] } })
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => store.close());
