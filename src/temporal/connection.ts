import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig, type WorkflowClientInterceptor } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalConfig } from '../config';
import { TemporalHealth, type TemporalHealthOptions } from './health';

/** TLS settings for a remote cluster or Temporal Cloud; none for the local dev server. */
function tlsOptions(config: TemporalConfig): TLSConfig | undefined {
  const { tls } = config;
  if (!tls) return undefined;
  const read = (path?: string): Buffer | undefined => (path ? readFileSync(path) : undefined);
  const crt = read(tls.clientCertPath);
  const key = read(tls.clientKeyPath);
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: read(tls.serverCaCertPath),
    clientCertPair: crt && key ? { crt, key } : undefined,
  };
}

export async function connectClient(
  config: TemporalConfig,
  options: { connectTimeoutMs?: number; interceptors?: WorkflowClientInterceptor[] } = {},
): Promise<Client> {
  const connection = await Connection.connect({
    address: config.address,
    tls: tlsOptions(config),
    apiKey: config.apiKey,
    ...(options.connectTimeoutMs !== undefined && { connectTimeout: options.connectTimeoutMs }),
  });
  return new Client({
    connection,
    namespace: config.namespace,
    ...(options.interceptors && { interceptors: { workflow: options.interceptors } }),
  });
}

export function connectNative(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect({
    address: config.address,
    tls: tlsOptions(config),
    apiKey: config.apiKey,
  });
}

/**
 * The API's client. It connects lazily, so the API starts (and answers 503) while the server is away, and
 * it refuses calls at once while its health probe finds the server down (src/temporal/health.ts).
 */
export function connectGuardedClient(
  config: TemporalConfig,
  healthOptions: TemporalHealthOptions = {},
  onChange?: (available: boolean) => void,
): { client: Client; health: TemporalHealth } {
  const connection = Connection.lazy({
    address: config.address,
    tls: tlsOptions(config),
    apiKey: config.apiKey,
  });
  const health = new TemporalHealth(connection, healthOptions, onChange).start();
  const client = new Client({
    connection,
    namespace: config.namespace,
    interceptors: { workflow: [health.interceptor()] },
  });
  return { client, health };
}
