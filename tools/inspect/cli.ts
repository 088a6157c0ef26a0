/**
 * `ticketdrop workflow …`: the seed's debugging commands, for real. `list --failed`, `show --compact`,
 * `describe --pending` and `describe --trace-root-cause` are answered here (text, json or mermaid);
 * every other command goes to the real `temporal` CLI unchanged. Errors are one line and a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { loadTemporalConfig } from '../../src/config';
import { localEnv } from '../dev/local-stack-file';
import { ensureTemporalCli } from '../dev/provision';
import { connectClient } from '../../src/temporal/connection';
import {
  assertSomeFailures,
  DEFAULT_LIMIT,
  FAILED_STATUSES,
  failuresText,
  GROUP_KEYS,
  groupFailures,
  groupsMermaid,
  groupsText,
  listFailed,
  parseSince,
  type FailedStatus,
  type GroupKey,
} from '../../src/observe/failed-workflows';
import { describePending, pendingMermaid, pendingText } from './pending';
import { showCompact, showMermaid, showText, timelineJson } from './show';
import { explain, InspectError, UsageError } from '../../src/observe/visibility';
import { traceMermaid, traceRootCause, traceText } from './trace';

export const FORMATS = ['text', 'json', 'mermaid'] as const;
export type Format = (typeof FORMATS)[number];

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Let the real `temporal` CLI write straight to this terminal (false: capture and forward). */
  inheritStdio?: boolean;
}

const USAGE = `usage: ticketdrop workflow <command> [flags]

Answered by TicketDrop (--output/-o or --format: text | json | mermaid):
  workflow list --failed [--since 5m] [--status failed,timed-out,terminated,canceled] [--follow-children]
                [--leaf-only] [--compact-errors] [--error-contains s] [--group-by error|type|status]
                [--limit N] [--event ID] [--type TYPE]
  workflow show --compact -w ID [-w ID …]
  workflow describe --pending -w ID
  workflow describe --trace-root-cause -w ID
Connection: --address host:port, --namespace NS (default: TEMPORAL_ADDRESS, then npm start's stack).
Any other command goes to the temporal CLI unchanged (e.g. ticketdrop workflow describe -w ID).
`;

const OPTIONS = {
  failed: { type: 'boolean' },
  since: { type: 'string' },
  status: { type: 'string', multiple: true },
  'follow-children': { type: 'boolean' },
  'leaf-only': { type: 'boolean' },
  'compact-errors': { type: 'boolean' },
  'error-contains': { type: 'string' },
  'group-by': { type: 'string' },
  limit: { type: 'string' },
  event: { type: 'string' },
  type: { type: 'string' },
  compact: { type: 'boolean' },
  pending: { type: 'boolean' },
  'trace-root-cause': { type: 'boolean' },
  'workflow-id': { type: 'string', short: 'w', multiple: true },
  'run-id': { type: 'string', short: 'r' },
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
  address: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The commands answered here; anything else is the temporal CLI's. */
export function isOurs(argv: string[]): boolean {
  const [group, command] = argv;
  if (group !== 'workflow') return false;
  const has = (flag: string) => argv.includes(flag);
  return (
    (command === 'list' && has('--failed')) ||
    (command === 'show' && has('--compact')) ||
    (command === 'describe' && (has('--pending') || has('--trace-root-cause')))
  );
}

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
}

function formatOf(values: Values): Format {
  const chosen = values.format ?? values.output ?? 'text';
  if (!(FORMATS as readonly string[]).includes(chosen)) {
    throw new UsageError(`unknown output format "${chosen}" (use text, json or mermaid)`);
  }
  return chosen as Format;
}

function workflowIds(values: Values, many: boolean): string[] {
  const ids = (values['workflow-id'] ?? []).map((id) => id.trim()).filter(Boolean);
  if (ids.length === 0) throw new UsageError('give the workflow with -w/--workflow-id ID');
  if (!many && ids.length > 1) throw new UsageError('this command takes one workflow id');
  return ids;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

async function listCommand(client: Client, values: Values, format: Format): Promise<string> {
  const statuses = (values.status ?? []).flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase());
  for (const status of statuses) {
    if (!(status in FAILED_STATUSES)) {
      throw new UsageError(`unknown --status "${status}" (use ${Object.keys(FAILED_STATUSES).join(', ')})`);
    }
  }
  const groupBy = values['group-by'];
  if (groupBy !== undefined && !(GROUP_KEYS as readonly string[]).includes(groupBy)) {
    throw new UsageError(`unknown --group-by key "${groupBy}" (use ${GROUP_KEYS.join(', ')})`);
  }
  const limit = values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UsageError(`--limit must be a positive whole number, got "${values.limit}"`);
  const sinceMs = values.since === undefined ? undefined : parseSince(values.since);
  const result = await listFailed(client, {
    sinceMs,
    statuses: statuses as FailedStatus[],
    eventId: values.event,
    type: values.type,
    followChildren: values['follow-children'],
    leafOnly: values['leaf-only'],
    compactErrors: values['compact-errors'],
    errorContains: values['error-contains'],
    limit,
  });
  const window = [
    values.since ? `in the last ${values.since}` : 'so far',
    values.event && `for event ${values.event}`,
    values['error-contains'] && `matching "${values['error-contains']}"`,
  ]
    .filter(Boolean)
    .join(' ');
  assertSomeFailures(result, window);
  const key = (groupBy ?? (format === 'mermaid' ? 'error' : undefined)) as GroupKey | undefined;
  if (!key) return format === 'json' ? json(result) : failuresText(result);
  const groups = groupFailures(result.failures, key);
  if (format === 'json') return json({ query: result.query, total: result.total, groupBy: key, groups });
  if (format === 'mermaid') return groupsMermaid(groups, `Failed workflows by ${key} (${window})`);
  return groupsText(groups, key, result.failures.length);
}

async function showCommand(client: Client, values: Values, format: Format): Promise<string> {
  const timelines = await showCompact(client, workflowIds(values, true), values['run-id']);
  if (format === 'json') return json({ workflows: timelines.map(timelineJson) });
  return format === 'mermaid' ? showMermaid(timelines) : showText(timelines);
}

async function describeCommand(client: Client, values: Values, format: Format): Promise<string> {
  const [id] = workflowIds(values, false);
  if (values['trace-root-cause']) {
    const report = await traceRootCause(client, id!, values['run-id']);
    return format === 'json' ? json(report) : format === 'mermaid' ? traceMermaid(report) : traceText(report);
  }
  const report = await describePending(client, id!, values['run-id']);
  return format === 'json'
    ? json(report)
    : format === 'mermaid'
      ? pendingMermaid(report)
      : pendingText(report);
}

async function connect(values: Values, env: NodeJS.ProcessEnv): Promise<Client> {
  const config = loadTemporalConfig(env);
  if (values.address) config.address = values.address;
  if (values.namespace) config.namespace = values.namespace;
  try {
    return await connectClient(config, { connectTimeoutMs: 5_000 });
  } catch (err) {
    throw new InspectError(
      `Temporal server not reachable at ${config.address}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

/** Hands the command to the real temporal CLI, pointed at the same server. */
function passThrough(argv: string[], io: CliIo): number {
  const bin = ensureTemporalCli((message) => io.stderr(`${message}\n`));
  const config = loadTemporalConfig(io.env);
  const env = { ...io.env, TEMPORAL_ADDRESS: config.address, TEMPORAL_NAMESPACE: config.namespace };
  if (io.inheritStdio) return spawnSync(bin, argv, { env, stdio: 'inherit' }).status ?? 1;
  const result = spawnSync(bin, argv, { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.stdout) io.stdout(result.stdout);
  if (result.stderr) io.stderr(result.stderr);
  return result.status ?? 1;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const env = localEnv(io.env);
  if (argv.length === 0 || ((argv[0] === '--help' || argv[0] === '-h') && argv.length === 1)) {
    io.stdout(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (!isOurs(argv)) return passThrough(argv, { ...io, env });
  let client: Client | undefined;
  try {
    const { values } = parse(argv.slice(2));
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    const format = formatOf(values);
    client = await connect(values, env);
    const command = argv[1];
    const text =
      command === 'list'
        ? await listCommand(client, values, format)
        : command === 'show'
          ? await showCommand(client, values, format)
          : await describeCommand(client, values, format);
    io.stdout(text);
    return 0;
  } catch (err) {
    const explained = explain(err);
    if (explained instanceof InspectError) {
      io.stderr(`ticketdrop: ${explained.message}\n`);
      return explained instanceof UsageError ? 2 : 1;
    }
    io.stderr(`ticketdrop: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}\n`);
    return 1;
  } finally {
    await client?.connection.close();
  }
}

/** The `ticketdrop` bin's entry point. */
export function main(): void {
  runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    inheritStdio: true,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ticketdrop: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
