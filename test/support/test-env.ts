/** The environment every test stack's processes share: secrets, short provider timeouts, lifted limits. */
import path from 'node:path';
import { devFanIdentityEnv } from '../../tools/dev/fan-issuer';

/**
 * The scale-out slice's settings travel under this prefix beside the integration project's (both global
 * setups run in one process); test/support/scale-env.ts maps them back in the slice's test files.
 */
export const SCALE_ENV_PREFIX = 'TICKETDROP_SCALE__';

export function testStackEnv(opts: {
  /** Names this stack's secrets apart from another's. */
  name: string;
  temporalAddress: string;
  temporalMetricsUrl?: string;
  taskQueue: string;
  redisUrl: string;
  logs: string;
}): Record<string, string> {
  const { name } = opts;
  return {
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    ...(opts.temporalMetricsUrl && { TICKETDROP_TEMPORAL_METRICS_URL: opts.temporalMetricsUrl }),
    TICKETDROP_TASK_QUEUE: opts.taskQueue,
    REDIS_URL: opts.redisUrl,
    TICKETDROP_ADMIN_TOKEN: `${name}-admin-token-0123456789`,
    TICKETDROP_GATE_TOKEN: `${name}-gate-token-0123456789`,
    TICKETDROP_SIGNING_SECRET: `${name}-signing-secret-0123456789`,
    ...devFanIdentityEnv(`${name}-fan-issuer-secret-0123456789abcdef`),
    TICKETDROP_TEST_LOGS: opts.logs,
    TICKETDROP_PROVIDERS_DB: path.join(opts.logs, 'providers.sqlite'),
    TICKETDROP_PAYMENT_TIMEOUT_MS: '2500',
    TICKETDROP_NOTIFY_MAX_ATTEMPTS: '3',
    TICKETDROP_NOTIFY_INITIAL_INTERVAL_MS: '100',
    // Every test fan calls from 127.0.0.1 and fan ids repeat across files: the shared test API's limits are
    // out of reach. The rate limits themselves are tested on APIs of their own (security.test.ts).
    TICKETDROP_RATE_JOIN_PER_FAN: '1000000',
    TICKETDROP_RATE_POLL_PER_FAN: '1000000',
    TICKETDROP_RATE_PURCHASE_PER_FAN: '1000000',
    TICKETDROP_RATE_JOIN_PER_ADDRESS: '100000000',
    TICKETDROP_RATE_POLL_PER_ADDRESS: '100000000',
    TICKETDROP_RATE_PURCHASE_PER_ADDRESS: '100000000',
    TICKETDROP_RATE_VERIFY_PER_ADDRESS: '100000000',
  };
}
