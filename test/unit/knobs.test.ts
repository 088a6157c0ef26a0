import { Knobs, knobsFromEnv } from '../../src/providers/knobs';
import { ProviderStore } from '../../src/providers/store';

describe('the crash-after-hold fault knob', () => {
  it('comes only from the process environment: a stored override cannot reach another worker', () => {
    const store = new ProviderStore(':memory:');
    try {
      const calm = new Knobs(store, knobsFromEnv({}));
      const crashing = new Knobs(store, knobsFromEnv({ TICKETDROP_FAULT_CRASH_AFTER_HOLD: 'true' }));
      // What a test or an operator could store for every process (the type refuses the key; JSON does not).
      store.setSetting('simulator-knobs', JSON.stringify({ crashAfterHold: true, paymentOutage: true }));
      expect(calm.current()).toMatchObject({ crashAfterHold: false, paymentOutage: true });
      store.setSetting('simulator-knobs', JSON.stringify({ crashAfterHold: false }));
      expect(crashing.current(Date.now() + 1_000)).toMatchObject({ crashAfterHold: true });
    } finally {
      store.close();
    }
  });
});
