/**
 * Provisioning by the project's own files: finds or installs the Temporal CLI (with its dev server),
 * redis-server and (for the browser tests) Chromium, so `npm start` and `npm test` work on a fresh machine
 * that has only Node, npm and Go.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const TOOLS_BIN = path.join(ROOT, '.tools', 'bin');

/** v1.5.1 is the newest CLI tag that `go install` accepts (later tags carry a replace directive). */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

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
