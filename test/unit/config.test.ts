import { ConfigError, loadWorkerConfig } from '../../src/config';

const env = (extra: Record<string, string> = {}) => ({
  TICKETDROP_SIGNING_SECRET: 'a-secret-of-enough-length',
  ...extra,
});

describe('worker roles (TICKETDROP_WORKER_ROLES)', () => {
  it('serves every task queue by default', () => {
    expect(loadWorkerConfig(env()).roles).toEqual(['main', 'waiting-rooms']);
  });

  it('serves only the listed task queues', () => {
    expect(loadWorkerConfig(env({ TICKETDROP_WORKER_ROLES: 'waiting-rooms' })).roles).toEqual([
      'waiting-rooms',
    ]);
    expect(loadWorkerConfig(env({ TICKETDROP_WORKER_ROLES: ' waiting-rooms , main ' })).roles).toEqual([
      'main',
      'waiting-rooms',
    ]);
  });

  it('refuses an unknown role, naming the known ones', () => {
    expect(() => loadWorkerConfig(env({ TICKETDROP_WORKER_ROLES: 'main,payments' }))).toThrow(
      new ConfigError(
        'TICKETDROP_WORKER_ROLES must list roles from main, waiting-rooms, got "main,payments"',
      ),
    );
  });
});

describe('deadlock watchdog (TICKETDROP_WORKER_DEADLOCK_TIMEOUT_MS)', () => {
  it('is off by default (0: no thread per call into workflow code) and can be set', () => {
    expect(loadWorkerConfig(env()).tuning.deadlockTimeoutMs).toBe(0);
    expect(
      loadWorkerConfig(env({ TICKETDROP_WORKER_DEADLOCK_TIMEOUT_MS: '5000' })).tuning.deadlockTimeoutMs,
    ).toBe(5000);
  });

  it('refuses a negative timeout', () => {
    expect(() => loadWorkerConfig(env({ TICKETDROP_WORKER_DEADLOCK_TIMEOUT_MS: '-1' }))).toThrow(ConfigError);
  });
});

describe('worker tuning', () => {
  it('gives a drop slots and pollers enough by default, each settable', () => {
    expect(loadWorkerConfig(env()).tuning).toMatchObject({
      workflowTaskSlots: 400,
      workflowTaskPolls: 50,
      activityTaskPolls: 20,
    });
    const tuned = loadWorkerConfig(
      env({ TICKETDROP_WORKER_WORKFLOW_TASK_POLLS: '8', TICKETDROP_WORKER_ACTIVITY_TASK_POLLS: '4' }),
    ).tuning;
    expect(tuned).toMatchObject({ workflowTaskPolls: 8, activityTaskPolls: 4 });
    expect(() => loadWorkerConfig(env({ TICKETDROP_WORKER_WORKFLOW_TASK_POLLS: '1' }))).toThrow(ConfigError);
  });
});
