/** How the report's parts round and total their figures, so the JSON, the Markdown and the targets agree. */
import os from 'node:os';
import type { DropReport } from './report';

/** One decimal, as every figure of the report is given. */
export const round = (n: number): number => Math.round(n * 10) / 10;

/** The total of a CPU-share record (% of one core). */
export const cpuTotal = (shares: Record<string, number>): number =>
  round(Object.values(shares).reduce((a, b) => a + b, 0));

/** The report's machine's cores; older reports lack them, so this machine's stand in. */
export const coresOf = (r: DropReport): number => r.cores ?? os.cpus().length;
