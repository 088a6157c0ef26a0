/**
 * The worker the tests run: the production worker (src/worker.ts) with the test faults' interceptor
 * around its activities. Never started by `npm start` or a deployment.
 */
import { loadWorkerConfig } from '../../src/config';
import { ProviderStore } from '../../src/providers/store';
import { runWorker } from '../../src/worker';
import { faultInterceptors, FaultSwitch, lateHoldInterceptor } from './faults';

const store = new ProviderStore(loadWorkerConfig().providersDb);
const faults = new FaultSwitch(store);
runWorker({
  interceptors: { activity: [faultInterceptors(faults)] },
  clientInterceptors: [lateHoldInterceptor(faults)],
})
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => store.close());
