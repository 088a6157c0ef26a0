/**
 * Starting and stopping the local services on loopback: the Temporal dev server, redis-server, and the
 * project's own Node processes (worker, API). Used by `npm start` and by the test setup.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../src/entities/seat/contract';
import { ROOT } from './provision';

export const HOST = '127.0.0.1';

export interface Service {
  name: string;
  child: ChildProcess;
  /** The other processes of a service made of several (a Redis Cluster's other nodes). */
  others?: ChildProcess[];
  /** Resolves when the process has exited on its own (not by `stop`). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** A port the OS says is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free port below 32768, outside the OS's ephemeral range: the Temporal server stores its membership
 * ports in a smallint column.
 */
export async function freeLowPort(): Promise<number> {
  for (;;) {
    const candidate = 10_000 + Math.floor(Math.random() * 22_000);
    if ((await portOrFree(candidate)) === candidate) return candidate;
  }
}

/** `preferred` if nothing listens there, else any free port. */
export async function portOrFree(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(preferred, HOST, () => server.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline for a race: it never keeps the process alive by itself. */
const deadline = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export async function until(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  service: Service,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void service.exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`${service.name} exited before it was ready`);
    if (await probe().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Write output to this file; otherwise prefix each line with the name on this process's output. */
  logFile?: string;
  /** Run as this user (when this process is root). */
  uid?: number;
  gid?: number;
}

export function spawnService(
  name: string,
  command: string,
  args: string[],
  opts: SpawnOptions = {},
): Service {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
  });
  if (opts.logFile) {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
  } else {
    for (const stream of [child.stdout, child.stderr]) {
      let buffer = '';
      stream.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
      });
    }
  }
  let stopping = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => !stopping && resolve(code)),
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    stopping = true;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killed = await Promise.race([done.then(() => true), deadline(15_000).then(() => false)]);
    if (!killed) {
      child.kill('SIGKILL');
      await done;
    }
  };
  return { name, child, exited, stop };
}

export interface TemporalServer extends Service {
  address: string;
  uiUrl?: string;
  /** The server's Prometheus metrics (`/metrics`), when a port was asked for. */
  metricsUrl?: string;
}

export async function startTemporalDevServer(opts: {
  bin: string;
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number;
  /** Omit for a random port nobody is told of. */
  metricsPort?: number;
  /** Omit for an in-memory store (tests). */
  dbFile?: string;
  logFile?: string;
}): Promise<TemporalServer> {
  const args = ['server', 'start-dev', '--ip', HOST, '--port', String(opts.port), '--log-level', 'warn'];
  args.push(...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']));
  if (opts.metricsPort) args.push('--metrics-port', String(opts.metricsPort));
  if (opts.dbFile) {
    // Write-ahead log, synced at checkpoints: SQLite's default rollback journal syncs several times per
    // transaction and serializes every write, which made the file-backed server 3× slower than in memory.
    // A crash of the process loses nothing; a power cut may lose the last moments.
    args.push(
      '--db-filename',
      opts.dbFile,
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
    );
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  // The dev server re-reads the search attributes from its store on every read of them (so that attributes
  // added at runtime show at once). Ours are all registered above, at start; the re-reads were a query on
  // the store's single SQLite connection for every workflow start and search-attribute upsert.
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  const service = spawnService('temporal', opts.bin, args, { logFile: opts.logFile });
  const address = `${HOST}:${opts.port}`;
  await until(
    `Temporal dev server at ${address}`,
    async () => {
      // A lazy connection can always be closed, also when the server is not up yet.
      const connection = Connection.lazy({ address, connectTimeout: 1_000 });
      try {
        await connection.ensureConnected();
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
    60_000,
    service,
  );
  return {
    ...service,
    address,
    uiUrl: opts.uiPort ? `http://${HOST}:${opts.uiPort}` : undefined,
    metricsUrl: opts.metricsPort ? `http://${HOST}:${opts.metricsPort}/metrics` : undefined,
  };
}

/**
 * The dev server's liveness: a call that reads its store (listing namespaces), not only its gRPC port.
 * A server whose store fails every transaction still answers health checks and system info.
 */
export async function temporalAlive(server: TemporalServer): Promise<void> {
  const connection = Connection.lazy({ address: server.address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.listNamespaces({ pageSize: 1 });
  } finally {
    await connection.close();
  }
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    socket.setTimeout(1_000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface RedisServer extends Service {
  url: string;
}

/** redis-server as a pure cache: no persistence (losing it loses nothing). */
export async function startRedisServer(opts: {
  bin: string;
  port: number;
  logFile?: string;
}): Promise<RedisServer> {
  const args = [
    '--port',
    String(opts.port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'yes',
  ];
  const service = spawnService('redis', opts.bin, args, { logFile: opts.logFile });
  await until(`redis-server on port ${opts.port}`, () => redisPing(opts.port), 20_000, service);
  return { ...service, url: `redis://${HOST}:${opts.port}` };
}

/**
 * Runs one of the project's TypeScript entry points (through tsx) and waits until it prints a line
 * matching `ready`.
 */
export async function startNodeService(
  name: string,
  entry: string,
  ready: RegExp,
  opts: SpawnOptions & { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<Service> {
  // tsx as a loader in the same process (not its CLI, which would fork): signals reach the service itself.
  const args = [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(ROOT, entry)];
  const service = spawnService(name, process.execPath, args, {
    ...opts,
    cwd: ROOT,
  });
  const seen = new Promise<void>((resolve) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer = (buffer + chunk.toString()).slice(-4096);
      if (ready.test(buffer)) {
        service.child.stdout?.off('data', onData);
        resolve();
      }
    };
    service.child.stdout?.on('data', onData);
  });
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const outcome = await Promise.race([
    seen.then(() => 'ready' as const),
    service.exited.then(() => 'exited' as const),
    deadline(timeoutMs).then(() => 'timeout' as const),
  ]);
  if (outcome !== 'ready') {
    await service.stop();
    throw new Error(
      `${name} ${outcome === 'exited' ? 'exited during start' : `not ready after ${timeoutMs} ms`}`,
    );
  }
  return service;
}

/**
 * Ports for `count` Redis Cluster nodes, each with its cluster bus port (port + 10000) free too: from
 * `first` up when they are free (so a restart finds the same cluster), else free low ports.
 */
export async function redisClusterPorts(count: number, first = 7001): Promise<number[]> {
  const ports: number[] = [];
  const free = async (port: number) =>
    !ports.includes(port) &&
    (await portOrFree(port)) === port &&
    (await portOrFree(port + 10_000)) === port + 10_000;
  for (let i = 0; i < count; i++) {
    let port = first + i;
    while (!(await free(port))) port = await freeLowPort();
    ports.push(port);
  }
  return ports;
}

export interface RedisCluster extends Service {
  /** The seed nodes, comma-separated, as REDIS_URL takes them with REDIS_CLUSTER=true. */
  url: string;
  ports: number[];
}

function redisCommand(cli: string, port: number, ...args: string[]): string {
  const result = spawnSync(cli, ['-h', HOST, '-p', String(port), ...args], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout : '';
}

/**
 * A Redis Cluster of `ports.length` masters (3 at least) on loopback, as a pure cache like the single
 * Redis: each node keeps only its cluster layout (`nodes-<port>.conf` in `dir`), so a restart on the same
 * ports brings the same cluster back, empty. Formed with `redis-cli --cluster create` the first time.
 */
export async function startRedisCluster(opts: {
  bin: string;
  cli: string;
  ports: number[];
  dir: string;
  logDir?: string;
}): Promise<RedisCluster> {
  mkdirSync(opts.dir, { recursive: true });
  // A layout for other ports is another cluster: start afresh (the data is only a cache).
  const layouts = readdirSync(opts.dir).filter((f) => /^nodes-\d+\.conf$/.test(f));
  const wanted = new Set(opts.ports.map((port) => `nodes-${port}.conf`));
  if (layouts.length > 0 && (layouts.length !== wanted.size || layouts.some((f) => !wanted.has(f)))) {
    for (const file of layouts) rmSync(path.join(opts.dir, file));
  }
  const nodes = opts.ports.map((port) =>
    spawnService(
      `redis-${port}`,
      opts.bin,
      [
        ...['--port', String(port), '--bind', HOST, '--protected-mode', 'yes'],
        ...['--save', '', '--appendonly', 'no', '--dir', opts.dir],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`],
        ...['--cluster-node-timeout', '5000'],
      ],
      { logFile: opts.logDir && path.join(opts.logDir, `redis-${port}.log`) },
    ),
  );
  const cluster: RedisCluster = {
    name: 'redis-cluster',
    child: nodes[0]!.child,
    others: nodes.slice(1).map((node) => node.child),
    exited: Promise.race(nodes.map((node) => node.exited)),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
    url: opts.ports.map((port) => `redis://${HOST}:${port}`).join(','),
    ports: opts.ports,
  };
  try {
    for (const [i, port] of opts.ports.entries()) {
      await until(`redis-server on port ${port}`, () => redisPing(port), 20_000, {
        ...cluster,
        ...nodes[i]!,
      });
    }
    const state = (port: number) => /cluster_state:ok/.test(redisCommand(opts.cli, port, 'cluster', 'info'));
    const slotsAssigned = redisCommand(opts.cli, opts.ports[0]!, 'cluster', 'info').match(
      /cluster_slots_assigned:(\d+)/,
    );
    if (Number(slotsAssigned?.[1] ?? 0) === 0) {
      const created = spawnSync(
        opts.cli,
        [
          '--cluster',
          'create',
          ...opts.ports.map((port) => `${HOST}:${port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { encoding: 'utf8' },
      );
      if (created.status !== 0)
        throw new Error(`redis-cli --cluster create failed:\n${created.stdout}${created.stderr}`);
    }
    await until(
      `Redis Cluster on ports ${opts.ports.join(', ')}`,
      () => Promise.resolve(opts.ports.every(state)),
      30_000,
      cluster,
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
