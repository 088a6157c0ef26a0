/**
 * The one typed configuration of TicketDrop: environment variables read through TypeBox schemas (defaults,
 * conversion and validation in one place, src/lib/env.ts). Secrets are kept apart from the rest so that
 * `describeConfig` can be logged safely.
 */
import { createPublicKey } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { ConfigError, EnvVar, readEnv, type Env } from './lib/env';

export { ConfigError };

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  /** TLS for a remote cluster or Temporal Cloud; off for the local dev server. */
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaCertPath?: string; serverName?: string };
  /** Temporal Cloud API key (implies TLS). */
  apiKey?: string;
}

export interface RedisConfig {
  /** One URL, or for a cluster a comma-separated list of seed node URLs. */
  url: string;
  cluster: boolean;
}

export interface PurchaseConfig {
  /** Start-to-close limit of one payment attempt. */
  paymentTimeoutMs: number;
  notifyMaxAttempts: number;
  notifyInitialIntervalMs: number;
}

export interface Config {
  temporal: TemporalConfig;
  redis: RedisConfig;
  api: {
    host: string;
    port: number;
    /** Whose X-Forwarded-For names the client: nobody's (false), any proxy's (true), or these addresses. */
    trustProxy: boolean | string[];
    /** Open change streams and long-polls this process takes, in total and per client address. */
    caps: { streams: { total: number; perClient: number }; longPolls: { total: number; perClient: number } };
    /** Calls per window per fan and per client address (shared by every API process, in Redis). */
    rateLimits: {
      windowSec: number;
      limits: Record<'join' | 'poll' | 'purchase' | 'verify', { perFan?: number; perAddress: number }>;
    };
  };
  adminToken: string;
  gateToken: string;
  signingSecret: string;
  fanIdentity: FanIdentityConfig;
  purchase: PurchaseConfig;
  /** The Temporal web UI the dashboard links seats to (what `npm start` starts, by default). */
  temporalUiUrl: string;
}

/** Algorithms a fan token may be signed with. */
export const FAN_TOKEN_ALGORITHMS = ['HS256', 'RS256', 'ES256', 'EdDSA'] as const;
export type FanTokenAlgorithm = (typeof FAN_TOKEN_ALGORITHMS)[number];

/** How fan tokens (JWTs from the site's identity provider) are verified. */
export interface FanIdentityConfig {
  /** The `iss` every token must carry, and the `aud` it must include. */
  issuer: string;
  audience: string;
  /** One key source: a shared HS256 secret, a PEM public key, or the provider's JWKS URL. */
  key:
    { kind: 'secret'; secret: string } | { kind: 'public-key'; pem: string } | { kind: 'jwks'; url: string };
  algorithms: FanTokenAlgorithm[];
  /** Clock skew allowed on `exp` and `nbf`. */
  clockToleranceSec: number;
}

/**
 * What a worker process serves: `main` is the task queue of the seats, purchases, events and
 * confirmations; `waiting-rooms` the queue entities' own. One process may serve both (the default).
 */
export const WORKER_ROLES = ['main', 'waiting-rooms'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

export interface WorkerConfig {
  /** The task queues this process polls (TICKETDROP_WORKER_ROLES, comma-separated; default all). */
  roles: WorkerRole[];
  temporal: TemporalConfig;
  redis: RedisConfig;
  signingSecret: string;
  /** SQLite file of the simulated providers (payment ledger, tickets, notifications). */
  providersDb: string;
  /** Where the worker serves its Prometheus metrics (the SDK's and TicketDrop's), if anywhere. */
  metricsAddress?: string;
  /** Worker slots and cache size. */
  tuning: {
    localActivitySlots: number;
    activitySlots: number;
    workflowTaskSlots: number;
    cachedWorkflows: number;
    workflowThreads: number;
    /** Concurrent polls for workflow tasks and for activity tasks (each poll brings one task). */
    workflowTaskPolls: number;
    activityTaskPolls: number;
    /**
     * How long one call into workflow code may run before the SDK fails the task as a potential
     * deadlock; 0 (the default) turns that watchdog off. Node starts and joins a thread for every such
     * call, several per activation, which cost a busy 2-core machine about 15 % of its ticket drop speed.
     */
    deadlockTimeoutMs: number;
  };
}

/** Where `npm start`'s dev server serves its web UI when the port is free (frontend port + 1000). */
export const DEFAULT_TEMPORAL_UI_URL = 'http://127.0.0.1:8233';

const TemporalEnv = Type.Object({
  TEMPORAL_ADDRESS: EnvVar.string('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: EnvVar.string('default'),
  TICKETDROP_TASK_QUEUE: EnvVar.string('ticketdrop'),
  TEMPORAL_API_KEY: Type.Optional(EnvVar.string()),
  TEMPORAL_TLS: EnvVar.flag(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: Type.Optional(EnvVar.string()),
  TEMPORAL_TLS_CLIENT_KEY_PATH: Type.Optional(EnvVar.string()),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: Type.Optional(EnvVar.string()),
  TEMPORAL_TLS_SERVER_NAME: Type.Optional(EnvVar.string()),
});

const RedisEnv = Type.Object({
  REDIS_URL: EnvVar.string('redis://127.0.0.1:6379'),
  REDIS_CLUSTER: EnvVar.flag(),
});

const ApiEnv = Type.Object({
  TICKETDROP_API_HOST: EnvVar.string('127.0.0.1'),
  TICKETDROP_API_PORT: EnvVar.port(3000),
  TICKETDROP_TRUST_PROXY: Type.Optional(EnvVar.string()),
  TICKETDROP_MAX_STREAMS: EnvVar.integer(1_000, 1, 1_000_000),
  TICKETDROP_MAX_STREAMS_PER_CLIENT: EnvVar.integer(20, 1, 1_000_000),
  TICKETDROP_MAX_LONG_POLLS: EnvVar.integer(10_000, 1, 1_000_000),
  TICKETDROP_MAX_LONG_POLLS_PER_CLIENT: EnvVar.integer(200, 1, 1_000_000),
  TICKETDROP_RATE_WINDOW_S: EnvVar.integer(60, 1, 3_600),
  TICKETDROP_RATE_JOIN_PER_FAN: EnvVar.integer(20, 1, 1_000_000),
  TICKETDROP_RATE_JOIN_PER_ADDRESS: EnvVar.integer(1_000, 1, 100_000_000),
  TICKETDROP_RATE_POLL_PER_FAN: EnvVar.integer(300, 1, 1_000_000),
  TICKETDROP_RATE_POLL_PER_ADDRESS: EnvVar.integer(30_000, 1, 100_000_000),
  TICKETDROP_RATE_PURCHASE_PER_FAN: EnvVar.integer(30, 1, 1_000_000),
  TICKETDROP_RATE_PURCHASE_PER_ADDRESS: EnvVar.integer(1_000, 1, 100_000_000),
  TICKETDROP_RATE_VERIFY_PER_ADDRESS: EnvVar.integer(600, 1, 100_000_000),
  TICKETDROP_ADMIN_TOKEN: EnvVar.secret(),
  TICKETDROP_GATE_TOKEN: EnvVar.secret(),
  TICKETDROP_SIGNING_SECRET: EnvVar.secret(),
  TICKETDROP_TEMPORAL_UI_URL: EnvVar.httpUrl(DEFAULT_TEMPORAL_UI_URL),
});

const FanIdentityEnv = Type.Object({
  TICKETDROP_FAN_JWT_ISSUER: EnvVar.string(),
  TICKETDROP_FAN_JWT_AUDIENCE: EnvVar.string(),
  TICKETDROP_FAN_JWT_SECRET: Type.Optional(
    EnvVar.secretOf(32, 'be at least 32 characters (an HS256 key of 256 bits)'),
  ),
  TICKETDROP_FAN_JWT_PUBLIC_KEY: Type.Optional(EnvVar.string()),
  TICKETDROP_FAN_JWKS_URL: Type.Optional(EnvVar.httpUrl()),
  TICKETDROP_FAN_JWT_ALGORITHMS: Type.Optional(EnvVar.subset(FAN_TOKEN_ALGORITHMS, 'algorithms', null)),
  TICKETDROP_FAN_JWT_CLOCK_TOLERANCE_S: EnvVar.integer(5, 0, 300),
});

const PurchaseEnv = Type.Object({
  TICKETDROP_PAYMENT_TIMEOUT_MS: EnvVar.integer(4_000, 100, 120_000),
  TICKETDROP_NOTIFY_MAX_ATTEMPTS: EnvVar.integer(5, 1, 100),
  TICKETDROP_NOTIFY_INITIAL_INTERVAL_MS: EnvVar.integer(1_000, 10, 600_000),
});

const WorkerEnv = Type.Object({
  TICKETDROP_WORKER_ROLES: EnvVar.subset(WORKER_ROLES, 'roles'),
  TICKETDROP_WORKER_LOCAL_ACTIVITY_SLOTS: EnvVar.integer(1_000, 1, 100_000),
  TICKETDROP_WORKER_ACTIVITY_SLOTS: EnvVar.integer(1_000, 1, 100_000),
  TICKETDROP_WORKER_WORKFLOW_TASK_SLOTS: EnvVar.integer(400, 2, 10_000),
  TICKETDROP_WORKER_CACHED_WORKFLOWS: EnvVar.integer(1_500, 1, 1_000_000),
  TICKETDROP_WORKER_WORKFLOW_THREADS: EnvVar.integer(1, 1, 64),
  TICKETDROP_WORKER_WORKFLOW_TASK_POLLS: EnvVar.integer(50, 2, 1_000),
  TICKETDROP_WORKER_ACTIVITY_TASK_POLLS: EnvVar.integer(20, 1, 1_000),
  TICKETDROP_WORKER_DEADLOCK_TIMEOUT_MS: EnvVar.integer(0, 0, 600_000),
  /** host:port of the worker's Prometheus endpoint (`/metrics`); unset, the worker exports none. */
  TICKETDROP_WORKER_METRICS_ADDRESS: Type.Optional(EnvVar.string()),
  TICKETDROP_SIGNING_SECRET: EnvVar.secret(),
  TICKETDROP_PROVIDERS_DB: EnvVar.string('.data/providers.sqlite'),
});

export function loadTemporalConfig(env: Env = process.env): TemporalConfig {
  const e = readEnv(TemporalEnv, env);
  const apiKey = e.TEMPORAL_API_KEY;
  const clientCertPath = e.TEMPORAL_TLS_CLIENT_CERT_PATH;
  const clientKeyPath = e.TEMPORAL_TLS_CLIENT_KEY_PATH;
  const serverCaCertPath = e.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
  if (Boolean(clientCertPath) !== Boolean(clientKeyPath)) {
    throw new ConfigError('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together');
  }
  const tlsWanted = e.TEMPORAL_TLS || Boolean(apiKey || clientCertPath || serverCaCertPath);
  const serverName = e.TEMPORAL_TLS_SERVER_NAME;
  return {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TICKETDROP_TASK_QUEUE,
    tls: tlsWanted ? { clientCertPath, clientKeyPath, serverCaCertPath, serverName } : undefined,
    apiKey,
  };
}

export function loadRedisConfig(env: Env = process.env): RedisConfig {
  const e = readEnv(RedisEnv, env);
  return { url: e.REDIS_URL, cluster: e.REDIS_CLUSTER };
}

export function loadConfig(env: Env = process.env): Config {
  const e = readEnv(ApiEnv, env);
  return {
    temporal: loadTemporalConfig(env),
    redis: loadRedisConfig(env),
    api: {
      host: e.TICKETDROP_API_HOST,
      port: e.TICKETDROP_API_PORT,
      trustProxy: trustProxyOf(e.TICKETDROP_TRUST_PROXY),
      caps: {
        streams: { total: e.TICKETDROP_MAX_STREAMS, perClient: e.TICKETDROP_MAX_STREAMS_PER_CLIENT },
        longPolls: { total: e.TICKETDROP_MAX_LONG_POLLS, perClient: e.TICKETDROP_MAX_LONG_POLLS_PER_CLIENT },
      },
      rateLimits: {
        windowSec: e.TICKETDROP_RATE_WINDOW_S,
        limits: {
          join: { perFan: e.TICKETDROP_RATE_JOIN_PER_FAN, perAddress: e.TICKETDROP_RATE_JOIN_PER_ADDRESS },
          poll: { perFan: e.TICKETDROP_RATE_POLL_PER_FAN, perAddress: e.TICKETDROP_RATE_POLL_PER_ADDRESS },
          purchase: {
            perFan: e.TICKETDROP_RATE_PURCHASE_PER_FAN,
            perAddress: e.TICKETDROP_RATE_PURCHASE_PER_ADDRESS,
          },
          verify: { perAddress: e.TICKETDROP_RATE_VERIFY_PER_ADDRESS },
        },
      },
    },
    adminToken: e.TICKETDROP_ADMIN_TOKEN,
    gateToken: e.TICKETDROP_GATE_TOKEN,
    signingSecret: e.TICKETDROP_SIGNING_SECRET,
    fanIdentity: loadFanIdentityConfig(env),
    purchase: loadPurchaseConfig(env),
    temporalUiUrl: e.TICKETDROP_TEMPORAL_UI_URL,
  };
}

/**
 * Fan token verification: TICKETDROP_FAN_JWT_ISSUER and _AUDIENCE, and exactly one key source
 * (TICKETDROP_FAN_JWT_SECRET, TICKETDROP_FAN_JWT_PUBLIC_KEY as PEM, or TICKETDROP_FAN_JWKS_URL). The
 * algorithms default to HS256 for a secret and RS256, ES256, EdDSA for a public key or JWKS.
 */
export function loadFanIdentityConfig(env: Env = process.env): FanIdentityConfig {
  const e = readEnv(FanIdentityEnv, env);
  const sources = [
    e.TICKETDROP_FAN_JWT_SECRET !== undefined &&
      ({ kind: 'secret', secret: e.TICKETDROP_FAN_JWT_SECRET } as const),
    e.TICKETDROP_FAN_JWT_PUBLIC_KEY !== undefined &&
      ({ kind: 'public-key', pem: e.TICKETDROP_FAN_JWT_PUBLIC_KEY.replace(/\\n/g, '\n') } as const),
    e.TICKETDROP_FAN_JWKS_URL !== undefined && ({ kind: 'jwks', url: e.TICKETDROP_FAN_JWKS_URL } as const),
  ].filter((source) => source !== false);
  if (sources.length !== 1) {
    throw new ConfigError(
      'set exactly one of TICKETDROP_FAN_JWT_SECRET, TICKETDROP_FAN_JWT_PUBLIC_KEY and TICKETDROP_FAN_JWKS_URL (how fan tokens are verified)',
    );
  }
  const key = sources[0]!;
  const symmetric = key.kind === 'secret';
  const algorithms =
    e.TICKETDROP_FAN_JWT_ALGORITHMS ?? FAN_TOKEN_ALGORITHMS.filter((alg) => (alg === 'HS256') === symmetric);
  if (algorithms.some((alg) => (alg === 'HS256') !== symmetric)) {
    throw new ConfigError(
      symmetric
        ? 'TICKETDROP_FAN_JWT_ALGORITHMS must be HS256 with a shared secret'
        : 'TICKETDROP_FAN_JWT_ALGORITHMS must not include HS256 with a public key or JWKS',
    );
  }
  if (key.kind === 'public-key') {
    try {
      createPublicKey(key.pem);
    } catch {
      throw new ConfigError('TICKETDROP_FAN_JWT_PUBLIC_KEY must be a PEM public key (SPKI)');
    }
  }
  return {
    issuer: e.TICKETDROP_FAN_JWT_ISSUER,
    audience: e.TICKETDROP_FAN_JWT_AUDIENCE,
    key,
    algorithms,
    clockToleranceSec: e.TICKETDROP_FAN_JWT_CLOCK_TOLERANCE_S,
  };
}

/** TICKETDROP_TRUST_PROXY: unset or "false", "true", or a comma-separated list of proxy addresses. */
function trustProxyOf(value: string | undefined): boolean | string[] {
  if (value === undefined || value.toLowerCase() === 'false') return false;
  if (value.toLowerCase() === 'true') return true;
  return value
    .split(',')
    .map((address) => address.trim())
    .filter(Boolean);
}

export function loadPurchaseConfig(env: Env = process.env): PurchaseConfig {
  const e = readEnv(PurchaseEnv, env);
  return {
    paymentTimeoutMs: e.TICKETDROP_PAYMENT_TIMEOUT_MS,
    notifyMaxAttempts: e.TICKETDROP_NOTIFY_MAX_ATTEMPTS,
    notifyInitialIntervalMs: e.TICKETDROP_NOTIFY_INITIAL_INTERVAL_MS,
  };
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const e = readEnv(WorkerEnv, env);
  return {
    roles: e.TICKETDROP_WORKER_ROLES,
    tuning: {
      localActivitySlots: e.TICKETDROP_WORKER_LOCAL_ACTIVITY_SLOTS,
      activitySlots: e.TICKETDROP_WORKER_ACTIVITY_SLOTS,
      workflowTaskSlots: e.TICKETDROP_WORKER_WORKFLOW_TASK_SLOTS,
      cachedWorkflows: e.TICKETDROP_WORKER_CACHED_WORKFLOWS,
      workflowThreads: e.TICKETDROP_WORKER_WORKFLOW_THREADS,
      workflowTaskPolls: e.TICKETDROP_WORKER_WORKFLOW_TASK_POLLS,
      activityTaskPolls: e.TICKETDROP_WORKER_ACTIVITY_TASK_POLLS,
      deadlockTimeoutMs: e.TICKETDROP_WORKER_DEADLOCK_TIMEOUT_MS,
    },
    temporal: loadTemporalConfig(env),
    redis: loadRedisConfig(env),
    signingSecret: e.TICKETDROP_SIGNING_SECRET,
    providersDb: e.TICKETDROP_PROVIDERS_DB,
    metricsAddress: e.TICKETDROP_WORKER_METRICS_ADDRESS,
  };
}

/** What is safe to print: everything but the secrets. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    temporal: { ...config.temporal, apiKey: config.temporal.apiKey ? '(set)' : undefined },
    redis: { url: config.redis.url.replace(/\/\/[^@/]*@/, '//***@'), cluster: config.redis.cluster },
    api: config.api,
    temporalUiUrl: config.temporalUiUrl,
  };
}
