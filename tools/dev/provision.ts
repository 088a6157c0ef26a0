/**
 * Provisioning by the project's own files: finds or installs the Temporal CLI (with its dev server),
 * redis-server and (for the browser tests) Chromium, so `npm start` and `npm test` work on a fresh machine
 * that has only Node, npm and Go.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const TOOLS_BIN = path.join(ROOT, '.tools', 'bin');

/** v1.5.1 is the newest CLI tag that `go install` accepts (later tags carry a replace directive). */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** The Temporal server and its SQL schema tool, built from the server module at one tag. */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

type Log = (message: string) => void;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable named `command` on PATH (plus any extra folders), like `which`. */
export function which(command: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs].filter(Boolean);
  return dirs.map((dir) => path.join(dir, command)).find(isExecutable);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const result = spawnSync(command, args, { env, stdio: 'inherit' });
  return result.status === 0;
}

/** `temporal` on PATH, else the project-local build, else `go install` it into `.tools/bin`. */
export function ensureTemporalCli(log: Log = console.log): string {
  const found =
    which('temporal') ??
    (isExecutable(path.join(TOOLS_BIN, 'temporal')) ? path.join(TOOLS_BIN, 'temporal') : undefined);
  if (found) return found;
  const go = which('go', ['/usr/local/go/bin']);
  if (!go) {
    throw new ProvisionError(
      'The Temporal CLI is not on PATH and Go is not installed to build it. Install Go (1.22 or newer) or ' +
        `put a "temporal" binary on PATH (https://docs.temporal.io/cli), then run this again.`,
    );
  }
  mkdirSync(TOOLS_BIN, { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with "go install" (first run only; a few minutes)…`);
  const ok = run(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
    ...process.env,
    GOBIN: TOOLS_BIN,
  });
  const built = path.join(TOOLS_BIN, 'temporal');
  if (!ok || !isExecutable(built)) {
    throw new ProvisionError(
      `"go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}" failed (output above). ` +
        'Check that the Go module proxy is reachable, or put a "temporal" binary on PATH.',
    );
  }
  return built;
}

/**
 * The Temporal server (`cmd/server`) and its SQL tool (`cmd/tools/sql`) at TEMPORAL_SERVER_VERSION, built
 * once with `go install` into `.tools/temporal-server-<version>/` (about 3 minutes on 2 cores).
 */
export function ensureTemporalServer(log: Log = console.log): { server: string; sqlTool: string } {
  const dir = path.join(ROOT, '.tools', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const built = { server: path.join(dir, 'server'), sqlTool: path.join(dir, 'sql') };
  if (isExecutable(built.server) && isExecutable(built.sqlTool)) return built;
  const go = which('go', ['/usr/local/go/bin']);
  if (!go) {
    throw new ProvisionError(
      'Go is not installed to build the Temporal server. Install Go (1.23 or newer), then run this again.',
    );
  }
  mkdirSync(dir, { recursive: true });
  log(
    `Building the Temporal server ${TEMPORAL_SERVER_VERSION} with "go install" (first run only; a few minutes)…`,
  );
  const packages = ['cmd/server', 'cmd/tools/sql'].map(
    (pkg) => `${TEMPORAL_SERVER_MODULE}/${pkg}@${TEMPORAL_SERVER_VERSION}`,
  );
  const ok = run(go, ['install', ...packages], { ...process.env, GOBIN: dir });
  if (!ok || !isExecutable(built.server) || !isExecutable(built.sqlTool)) {
    throw new ProvisionError(
      `"go install ${packages.join(' ')}" failed (output above). Check that the Go module proxy is reachable.`,
    );
  }
  return built;
}

/**
 * Installs Debian packages with apt-get when running as root and returns the path of `command` they
 * provide; `undefined` when there is no apt-get or no root (a failed install is an error).
 */
function aptInstall(packages: string[], command: string, log: Log): string | undefined {
  const aptGet = which('apt-get');
  if (!aptGet || process.getuid?.() !== 0) return undefined;
  log(`Installing Debian package${packages.length > 1 ? 's' : ''} ${packages.join(', ')}…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (run(aptGet, ['update', '-qq'], env) && run(aptGet, ['install', '-y', '-qq', ...packages], env)) {
    const installed = which(command, ['/usr/bin']);
    if (installed) return installed;
  }
  throw new ProvisionError(`apt-get could not install ${packages.join(', ')} (output above).`);
}

/** `redis-server` on PATH, else Debian's package when running as root, else a clear error. */
export function ensureRedisServer(log: Log = console.log): string {
  const found =
    which('redis-server', ['/usr/bin', '/usr/local/bin']) ??
    aptInstall(['redis-server'], 'redis-server', log);
  if (found) return found;
  throw new ProvisionError(
    'redis-server is not installed. Install it (Debian/Ubuntu: "sudo apt-get install redis-server", ' +
      'macOS: "brew install redis"), or set REDIS_URL to a Redis you run.',
  );
}

/** `redis-cli` (it forms a local Redis Cluster): beside redis-server, else Debian's `redis-tools`. */
export function ensureRedisCli(log: Log = console.log): string {
  const found =
    which('redis-cli', ['/usr/bin', '/usr/local/bin']) ?? aptInstall(['redis-tools'], 'redis-cli', log);
  if (found) return found;
  throw new ProvisionError(
    'redis-cli is not installed. Install it (Debian/Ubuntu: "sudo apt-get install redis-tools").',
  );
}

/**
 * PostgreSQL's server binaries (Debian's `postgresql`, installed with apt-get when running as root), and,
 * when this process is root, the `postgres` user to run them as: PostgreSQL refuses to run as root.
 */
export function ensurePostgres(log: Log = console.log): {
  binDir: string;
  user?: { uid: number; gid: number };
} {
  const find = (): string | undefined => {
    const base = '/usr/lib/postgresql';
    if (!existsSync(base)) return undefined;
    const versions = readdirSync(base)
      .filter((v) => isExecutable(path.join(base, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] && path.join(base, versions[0], 'bin');
  };
  let binDir = find();
  if (!binDir) {
    aptInstall(['postgresql'], 'psql', log);
    binDir = find();
  }
  if (!binDir) {
    throw new ProvisionError(
      'PostgreSQL is not installed. Install it (Debian/Ubuntu: "sudo apt-get install postgresql"), then run ' +
        'this again.',
    );
  }
  if (process.getuid?.() !== 0) return { binDir };
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    throw new ProvisionError('Running as root, but there is no "postgres" user to run PostgreSQL as.');
  }
  return { binDir, user: { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } };
}

/**
 * The system's Chromium for the browser tests and the dashboard benchmark: `/usr/bin/chromium`, else
 * Debian's package when running as root, else a clear error. A browser is never downloaded.
 */
export function ensureChromium(log: Log = console.log): string {
  const found =
    (isExecutable('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined) ??
    aptInstall(['chromium', 'chromium-driver'], 'chromium', log);
  if (found) return found;
  throw new ProvisionError(
    'Chromium is not installed. Install it (Debian/Ubuntu: "sudo apt-get install chromium") so that ' +
      '/usr/bin/chromium exists; the browser tests use the system browser and never download one.',
  );
}

export function ensureDir(dir: string): string {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  return dir;
}
