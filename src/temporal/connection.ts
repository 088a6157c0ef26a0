import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TemporalConfig } from '../config';

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
  options: { connectTimeoutMs?: number } = {},
): Promise<Client> {
  const connection = await Connection.connect({
    address: config.address,
    tls: tlsOptions(config),
    apiKey: config.apiKey,
    ...(options.connectTimeoutMs !== undefined && { connectTimeout: options.connectTimeoutMs }),
  });
  return new Client({ connection, namespace: config.namespace });
}

export function connectNative(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect({
    address: config.address,
    tls: tlsOptions(config),
    apiKey: config.apiKey,
  });
}
