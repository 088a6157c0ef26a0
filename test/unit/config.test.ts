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
