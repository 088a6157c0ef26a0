/**
 * Where `npm start` tells the project's command-line tools (audit, drop, rebuild-cache) what it started:
 * `.data/stack.json` holds addresses and process ids, `.data/secrets.json` the local secrets. Tools use
 * them as defaults; the environment (TEMPORAL_ADDRESS, REDIS_URL, …) always wins.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { devFanIdentityEnv } from './fan-issuer';
import { ROOT } from './provision';

export const DATA_DIR = path.join(ROOT, '.data');
const STACK_FILE = path.join(DATA_DIR, 'stack.json');
const SECRETS_FILE = path.join(DATA_DIR, 'secrets.json');

export interface LocalStackFile {
  temporalAddress: string;
  redisUrl: string;
  /** `redisUrl` lists a Redis Cluster's seed nodes (`npm start -- --redis=cluster`). */
  redisCluster?: boolean;
  apiUrl: string;
  /** The Temporal web UI, when `npm start` started the dev server. */
  temporalUiUrl?: string;
  /** The dev server's Prometheus metrics; the drop reads its store figures there. */
  temporalMetricsUrl?: string;
  /** The worker's Prometheus metrics (SDK telemetry and TicketDrop's counters). */
  workerMetricsUrl?: string;
  /** npm start's supervisor's Prometheus metrics (service exits, restarts, up). */
  supervisorMetricsUrl?: string;
  providersDb: string;
  /** Process ids by service name (temporal, redis, worker, api). */
  pids: Record<string, number>;
}

export function writeStackFile(stack: LocalStackFile): void {
  writeFileSync(STACK_FILE, JSON.stringify(stack, null, 2));
}

function readJson<T>(file: string): Partial<T> {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<T>) : {};
}

export function readStackFile(): Partial<LocalStackFile> {
  return readJson<LocalStackFile>(STACK_FILE);
}

/** The environment with `npm start`'s addresses and secrets filled in where it has none. */
export function localEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const stack = readStackFile();
  const secrets = readJson<{
    adminToken: string;
    gateToken: string;
    signingSecret: string;
    fanIssuerSecret: string;
  }>(SECRETS_FILE);
  const defaults: Record<string, string | undefined> = {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    REDIS_URL: stack.redisUrl,
    REDIS_CLUSTER: env.REDIS_URL === undefined && stack.redisCluster ? 'true' : undefined,
    TICKETDROP_PROVIDERS_DB: stack.providersDb,
    TICKETDROP_API_URL: stack.apiUrl,
    TICKETDROP_TEMPORAL_UI_URL: stack.temporalUiUrl,
    TICKETDROP_ADMIN_TOKEN: secrets.adminToken,
    TICKETDROP_GATE_TOKEN: secrets.gateToken,
    TICKETDROP_SIGNING_SECRET: secrets.signingSecret,
    ...(secrets.fanIssuerSecret && devFanIdentityEnv(secrets.fanIssuerSecret)),
  };
  const merged = { ...env };
  for (const [key, value] of Object.entries(defaults))
    if (merged[key] === undefined && value) merged[key] = value;
  return merged;
}
