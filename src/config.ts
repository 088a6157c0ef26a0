/**
 * The one typed configuration of TicketDrop: environment variables with defaults, validated once.
 * Secrets are kept apart from the rest so that `describeConfig` can be logged safely.
 */

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
  api: { host: string; port: number };
  adminToken: string;
  signingSecret: string;
  purchase: PurchaseConfig;
  /** The Temporal web UI the dashboard links seats to (what `npm start` starts, by default). */
  temporalUiUrl: string;
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

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function str(env: Env, key: string, fallback?: string): string {
  const value = env[key]?.trim();
  if (value) return value;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(`${key} is required`);
}

function port(env: Env, key: string, fallback: number): number {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`${key} must be a port number (0-65535), got "${raw}"`);
  }
  return value;
}

function int(env: Env, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, key: string): boolean {
  const raw = env[key]?.trim().toLowerCase();
  if (!raw) return false;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${key} must be true or false, got "${raw}"`);
}

function httpUrl(env: Env, key: string, fallback: string): string {
  const value = str(env, key, fallback);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(`${key} must be an http(s) URL, got "${value}"`);
  }
  return value.replace(/\/+$/, '');
}

function roles(env: Env, key: string): WorkerRole[] {
  const raw = env[key]?.trim();
  if (!raw) return [...WORKER_ROLES];
  const wanted = raw.split(',').map((r) => r.trim());
  const unknown = wanted.filter((r) => !(WORKER_ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) {
    throw new ConfigError(`${key} must list roles from ${WORKER_ROLES.join(', ')}, got "${raw}"`);
  }
  return WORKER_ROLES.filter((r) => wanted.includes(r));
}

function secret(env: Env, key: string): string {
  const value = str(env, key);
  if (value.length < 16) throw new ConfigError(`${key} must be at least 16 characters`);
  return value;
}

export function loadTemporalConfig(env: Env = process.env): TemporalConfig {
  const apiKey = env.TEMPORAL_API_KEY?.trim() || undefined;
  const clientCertPath = env.TEMPORAL_TLS_CLIENT_CERT_PATH?.trim() || undefined;
  const clientKeyPath = env.TEMPORAL_TLS_CLIENT_KEY_PATH?.trim() || undefined;
  const serverCaCertPath = env.TEMPORAL_TLS_SERVER_CA_CERT_PATH?.trim() || undefined;
  const serverName = env.TEMPORAL_TLS_SERVER_NAME?.trim() || undefined;
  if (Boolean(clientCertPath) !== Boolean(clientKeyPath)) {
    throw new ConfigError('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together');
  }
  const tlsWanted = bool(env, 'TEMPORAL_TLS') || Boolean(apiKey || clientCertPath || serverCaCertPath);
  return {
    address: str(env, 'TEMPORAL_ADDRESS', '127.0.0.1:7233'),
    namespace: str(env, 'TEMPORAL_NAMESPACE', 'default'),
    taskQueue: str(env, 'TICKETDROP_TASK_QUEUE', 'ticketdrop'),
    tls: tlsWanted ? { clientCertPath, clientKeyPath, serverCaCertPath, serverName } : undefined,
    apiKey,
  };
}

export function loadRedisConfig(env: Env = process.env): RedisConfig {
  return { url: str(env, 'REDIS_URL', 'redis://127.0.0.1:6379'), cluster: bool(env, 'REDIS_CLUSTER') };
}

export function loadConfig(env: Env = process.env): Config {
  return {
    temporal: loadTemporalConfig(env),
    redis: loadRedisConfig(env),
    api: { host: str(env, 'TICKETDROP_API_HOST', '127.0.0.1'), port: port(env, 'TICKETDROP_API_PORT', 3000) },
    adminToken: secret(env, 'TICKETDROP_ADMIN_TOKEN'),
    signingSecret: secret(env, 'TICKETDROP_SIGNING_SECRET'),
    purchase: loadPurchaseConfig(env),
    temporalUiUrl: httpUrl(env, 'TICKETDROP_TEMPORAL_UI_URL', DEFAULT_TEMPORAL_UI_URL),
  };
}

export function loadPurchaseConfig(env: Env = process.env): PurchaseConfig {
  return {
    paymentTimeoutMs: int(env, 'TICKETDROP_PAYMENT_TIMEOUT_MS', 4_000, 100, 120_000),
    notifyMaxAttempts: int(env, 'TICKETDROP_NOTIFY_MAX_ATTEMPTS', 5, 1, 100),
    notifyInitialIntervalMs: int(env, 'TICKETDROP_NOTIFY_INITIAL_INTERVAL_MS', 1_000, 10, 600_000),
  };
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  return {
    roles: roles(env, 'TICKETDROP_WORKER_ROLES'),
    tuning: {
      localActivitySlots: int(env, 'TICKETDROP_WORKER_LOCAL_ACTIVITY_SLOTS', 1_000, 1, 100_000),
      activitySlots: int(env, 'TICKETDROP_WORKER_ACTIVITY_SLOTS', 1_000, 1, 100_000),
      workflowTaskSlots: int(env, 'TICKETDROP_WORKER_WORKFLOW_TASK_SLOTS', 400, 2, 10_000),
      cachedWorkflows: int(env, 'TICKETDROP_WORKER_CACHED_WORKFLOWS', 1_500, 1, 1_000_000),
      workflowThreads: int(env, 'TICKETDROP_WORKER_WORKFLOW_THREADS', 1, 1, 64),
      workflowTaskPolls: int(env, 'TICKETDROP_WORKER_WORKFLOW_TASK_POLLS', 50, 2, 1_000),
      activityTaskPolls: int(env, 'TICKETDROP_WORKER_ACTIVITY_TASK_POLLS', 20, 1, 1_000),
      deadlockTimeoutMs: int(env, 'TICKETDROP_WORKER_DEADLOCK_TIMEOUT_MS', 0, 0, 600_000),
    },
    temporal: loadTemporalConfig(env),
    redis: loadRedisConfig(env),
    signingSecret: secret(env, 'TICKETDROP_SIGNING_SECRET'),
    providersDb: str(env, 'TICKETDROP_PROVIDERS_DB', '.data/providers.sqlite'),
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
