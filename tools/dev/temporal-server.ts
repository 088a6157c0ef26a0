/**
 * The Temporal server itself (not the dev server) on PostgreSQL, on loopback: Debian's PostgreSQL in a
 * cluster of its own under `.data/`, the schemas set up by the server's own SQL tool, and the server built
 * by `go install` at a pinned tag, with a configurable number of history shards. Used by
 * `npm start -- --temporal=postgres` and by the test slice that runs on it (docs/SCALING.md).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../../src/entities/seat/contract';
import { ensureDir } from './provision';
import { freeLowPort, HOST, spawnService, until, type Service, type TemporalServer } from './services';

/** Where PostgreSQL's binaries are and who runs them (PostgreSQL never runs as root). */
export interface Postgres {
  binDir: string;
  /** Set when this process is root: the cluster's files and processes belong to this user. */
  user?: { uid: number; gid: number };
}

export interface PostgresServer extends Service {
  port: number;
}

/** The database user TicketDrop's local cluster trusts on loopback (no password: it listens nowhere else). */
export const PG_USER = 'temporal';

function runAs(pg: Postgres, command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, {
    uid: pg.user?.uid,
    gid: pg.user?.gid,
    encoding: 'utf8',
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/**
 * A PostgreSQL cluster of TicketDrop's own in `dataDir` (made on first use), listening on loopback TCP
 * only. Durable commits (fsync and synchronous_commit left on): what Temporal acknowledged is on disk.
 * Run as root, the cluster belongs to `pg.user`, who must be able to reach `dataDir`'s folder.
 */
export async function startPostgres(
  pg: Postgres,
  opts: { dataDir: string; port: number; logFile?: string },
): Promise<PostgresServer> {
  if (!existsSync(path.join(opts.dataDir, 'PG_VERSION'))) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    if (pg.user) chownSync(opts.dataDir, pg.user.uid, pg.user.gid);
    const init = runAs(pg, path.join(pg.binDir, 'initdb'), [
      '-D',
      opts.dataDir,
      '-U',
      PG_USER,
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-instructions',
    ]);
    if (!init.ok) throw new Error(`initdb failed:\n${init.output}`);
  }
  const args = [
    '-D',
    opts.dataDir,
    '-p',
    String(opts.port),
    '-c',
    `listen_addresses=${HOST}`,
    '-c',
    'unix_socket_directories=',
    // Temporal opens a pool per store per service: more than PostgreSQL's default 100 with many shards.
    '-c',
    'max_connections=300',
  ];
  const service = spawnService('postgres', path.join(pg.binDir, 'postgres'), args, {
    logFile: opts.logFile,
    uid: pg.user?.uid,
    gid: pg.user?.gid,
  });
  const ready = () =>
    Promise.resolve(
      spawnSync(path.join(pg.binDir, 'pg_isready'), ['-h', HOST, '-p', String(opts.port), '-U', PG_USER])
        .status === 0,
    );
  await until(`PostgreSQL on port ${opts.port}`, ready, 60_000, service);
  return { ...service, port: opts.port };
}

/** The two databases of a Temporal cluster with `shards` history shards (fixed when it is made). */
export function temporalDatabases(shards: number): { main: string; visibility: string } {
  return { main: `temporal_s${shards}`, visibility: `temporal_s${shards}_visibility` };
}

/**
 * Creates the cluster's databases and brings their schemas to the versions the server binary embeds, with
 * the server's own SQL tool. Safe to run on every start: an existing database is kept and only updated.
 */
export function setupTemporalSchemas(sqlTool: string, pgPort: number, shards: number): void {
  const { main, visibility } = temporalDatabases(shards);
  const base = ['--plugin', 'postgres12', '--ep', HOST, '-p', String(pgPort), '-u', PG_USER, '--quiet'];
  const tool = (db: string, ...args: string[]) => {
    const result = spawnSync(sqlTool, [...base, '--db', db, ...args], { encoding: 'utf8' });
    return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
  };
  for (const [db, schema] of [
    [main, 'postgresql/v12/temporal'],
    [visibility, 'postgresql/v12/visibility'],
  ] as const) {
    const created = tool(db, 'create-database');
    if (created.ok) {
      const setup = tool(db, 'setup-schema', '-v', '0.0');
      if (!setup.ok) throw new Error(`setting up the schema of ${db} failed:\n${setup.output}`);
    } else if (!/already exists/i.test(created.output)) {
      throw new Error(`creating database ${db} failed:\n${created.output}`);
    }
    const updated = tool(db, 'update-schema', '--schema-name', schema);
    if (!updated.ok) throw new Error(`updating the schema of ${db} failed:\n${updated.output}`);
  }
}

interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
  metrics: number;
}

function serverConfig(opts: {
  pgPort: number;
  shards: number;
  ports: ServerPorts;
  dynamicConfigFile: string;
}): string {
  const { main, visibility } = temporalDatabases(opts.shards);
  const { ports } = opts;
  const store = (db: string, conns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: "${HOST}:${opts.pgPort}"
        connectProtocol: tcp
        user: ${PG_USER}
        password: ""
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const service = (grpc: number, membership: number, http?: number) => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnIP: ${HOST}${http ? `\n      httpPort: ${http}` : ''}`;
  return `# Written by tools/dev/temporal-server.ts on every start: edit that file, not this one.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${opts.shards}
  datastores:
    postgres-default:${store(main, 20)}
    postgres-visibility:${store(visibility, 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "${HOST}"
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "${HOST}:${ports.metrics}"
services:
  frontend:${service(ports.frontend, ports.frontendMembership, ports.frontendHttp)}
  history:${service(ports.history, ports.historyMembership)}
  matching:${service(ports.matching, ports.matchingMembership)}
  worker:${service(ports.worker, ports.workerMembership)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "${HOST}:${ports.frontend}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "${opts.dynamicConfigFile}"
  pollInterval: 10s
`;
}

/**
 * Starts the Temporal server on the PostgreSQL cluster at `pgPort` (schemas set up already), its frontend
 * on `port`, and makes sure the `default` namespace and TicketDrop's search attributes exist.
 */
export async function startTemporalServer(opts: {
  serverBin: string;
  pgPort: number;
  shards: number;
  port: number;
  rootDir: string;
  logFile?: string;
}): Promise<TemporalServer> {
  const configDir = ensureDir(path.join(opts.rootDir, 'config'));
  const ports: ServerPorts = {
    frontend: opts.port,
    frontendHttp: await freeLowPort(),
    frontendMembership: await freeLowPort(),
    history: await freeLowPort(),
    historyMembership: await freeLowPort(),
    matching: await freeLowPort(),
    matchingMembership: await freeLowPort(),
    worker: await freeLowPort(),
    workerMembership: await freeLowPort(),
    metrics: await freeLowPort(),
  };
  const dynamicConfigFile = path.join(configDir, 'dynamicconfig.yaml');
  // Server defaults, stated so an operator sees where to tune (docs/SCALING.md).
  writeFileSync(dynamicConfigFile, '# Dynamic config of the local Temporal server (server defaults).\n');
  writeFileSync(
    path.join(configDir, 'development.yaml'),
    serverConfig({ pgPort: opts.pgPort, shards: opts.shards, ports, dynamicConfigFile }),
  );
  const service = spawnService(
    'temporal',
    opts.serverBin,
    ['--root', opts.rootDir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
    { logFile: opts.logFile },
  );
  const address = `${HOST}:${opts.port}`;
  const connect = () => Connection.lazy({ address, connectTimeout: 1_000 });
  await until(
    `Temporal server at ${address}`,
    async () => {
      const connection = connect();
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
    120_000,
    service,
  );
  const connection = connect();
  try {
    await ensureNamespace(connection, 'default');
  } finally {
    await connection.close();
  }
  return { ...service, address, metricsUrl: `http://${HOST}:${ports.metrics}/metrics` };
}

/** gRPC ALREADY_EXISTS: a namespace or search attribute made by an earlier start. */
const alreadyExists = (err: unknown): boolean => (err as { code?: number }).code === 6;

/**
 * The namespace (one day of retention) and TicketDrop's search attributes, made once; then waits until
 * the frontend serves the namespace (its namespace cache refreshes every few seconds).
 */
async function ensureNamespace(connection: Connection, namespace: string): Promise<void> {
  await connection.workflowService
    .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') })
    .catch((err: unknown) => {
      if (!alreadyExists(err)) throw err;
    });
  const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
  const wanted = Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((name) => [name, KEYWORD]));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = Object.fromEntries(
        Object.entries(wanted).filter(([name]) => !(name in (listed.customAttributes ?? {}))),
      );
      if (Object.keys(missing).length > 0) {
        await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
        continue;
      }
      // Served once a query on the namespace works (the search attributes included).
      await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
