/**
 * What /proc (Linux) says about a process and the processes it started (PostgreSQL serves each connection
 * from a process of its own): CPU time used and resident memory. 0 when unreadable.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat after the command name (index 1 is the parent's pid). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Parent → children, read from /proc at most every TABLE_MS (trees change when connections open). */
let table: { at: number; children: Map<number, number[]> } | undefined;
const TABLE_MS = 5_000;

/** The process and its descendants. */
function tree(pid: number): number[] {
  if (!table || Date.now() - table.at > TABLE_MS) {
    const children = new Map<number, number[]>();
    for (const entry of readdirSync('/proc')) {
      const child = Number(entry);
      if (!Number.isInteger(child)) continue;
      const parent = Number(statFields(child)?.[1]);
      if (parent) children.set(parent, [...(children.get(parent) ?? []), child]);
    }
    table = { at: Date.now(), children };
  }
  const all: number[] = [];
  const visit = (p: number): void => {
    all.push(p);
    for (const c of table!.children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return all;
}

/** CPU seconds (user + system) the process and its descendants have used so far. */
export function cpuSeconds(pid: number): number {
  let sum = 0;
  for (const p of tree(pid)) {
    const fields = statFields(p);
    if (fields) sum += (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, 1/100 s ticks
  }
  return sum;
}

/**
 * Resident memory in MiB: VmRSS of a process alone; for a process with descendants, the sum of their
 * proportional shares (Pss), so memory they share (PostgreSQL's shared buffers) counts once.
 */
export function rssMiB(pid: number): number {
  const pids = tree(pid);
  const [field, file] = pids.length > 1 ? ['Pss', 'smaps_rollup'] : ['VmRSS', 'status'];
  let sum = 0;
  for (const p of pids) {
    try {
      const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${p}/${file}`, 'utf8'));
      if (match) sum += Number(match[1]) / 1024;
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}
