import { FaultSwitch, faultsFromEnv } from '../../tools/faults/faults';
import { ProviderStore } from '../../src/providers/store';

describe('the crash-after-hold test fault', () => {
  it('comes only from the process environment: a stored override cannot reach another worker', () => {
    const store = new ProviderStore(':memory:');
    try {
      const calm = new FaultSwitch(store, faultsFromEnv({}));
      const crashing = new FaultSwitch(store, faultsFromEnv({ TICKETDROP_FAULT_CRASH_AFTER_HOLD: 'true' }));
      // What a test could store for every process (the type allows the key; it is ignored).
      store.setSetting('test-faults', JSON.stringify({ crashAfterHold: true, seatAnswerLoss: true }));
      expect(calm.current()).toMatchObject({ crashAfterHold: false, seatAnswerLoss: true });
      store.setSetting('test-faults', JSON.stringify({ crashAfterHold: false }));
      expect(crashing.current(Date.now() + 1_000)).toMatchObject({ crashAfterHold: true });
    } finally {
      store.close();
    }
  });
});
