/** The memory and CPU time of the stack's processes and the load generator while a drop runs. */
import { cpuSeconds, rssMiB } from '../proc';
import { round } from './figures';

/** The process name the drop gives itself in the usage figures. */
export const LOAD_GENERATOR = 'drop simulator';

export interface ProcessUsage {
  peakRssMiB: Record<string, number>;
  /** Average share of one core each process used while watched. */
  cpuPercent: Record<string, number>;
  /** The same while the crowd arrived (the window), when asked for. */
  crowdCpuPercent?: Record<string, number>;
}

/**
 * Samples memory and CPU time of the given processes until stopped; returns peak RSS and average CPU per
 * process, over the whole watch and (when given) over an interval of it such as the arrival window.
 */
export function watchProcesses(
  pids: Record<string, number>,
  everyMs = 500,
): (interval?: { from: number; to: number }) => ProcessUsage {
  const peaks: Record<string, number> = {};
  const cpuTimes: { at: number; cpu: Record<string, number> }[] = [];
  const sample = () => {
    for (const [name, pid] of Object.entries(pids)) peaks[name] = Math.max(peaks[name] ?? 0, rssMiB(pid));
    cpuTimes.push({
      at: Date.now(),
      cpu: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)])),
    });
  };
  /** Share of one core per process between two samples. */
  const usedBetween = (a: (typeof cpuTimes)[number], b: (typeof cpuTimes)[number]) =>
    Object.fromEntries(
      Object.keys(pids).map((name) => [
        name,
        round(((b.cpu[name] - a.cpu[name]) / Math.max(0.001, (b.at - a.at) / 1000)) * 100),
      ]),
    );
  sample();
  const timer = setInterval(sample, everyMs);
  return (interval) => {
    clearInterval(timer);
    sample();
    const usage: ProcessUsage = {
      peakRssMiB: Object.fromEntries(Object.entries(peaks).map(([name, mib]) => [name, Math.round(mib)])),
      cpuPercent: usedBetween(cpuTimes[0], cpuTimes[cpuTimes.length - 1]),
    };
    if (interval) {
      const from = [...cpuTimes].reverse().find((t) => t.at <= interval.from) ?? cpuTimes[0];
      const to = cpuTimes.find((t) => t.at >= interval.to) ?? cpuTimes[cpuTimes.length - 1];
      if (to.at > from.at) usage.crowdCpuPercent = usedBetween(from, to);
    }
    return usage;
  };
}

/** The system under test's peak RSS: every process but the load generator (null when none was watched). */
export function stackRss(peaks: Record<string, number>): number | null {
  const stack = Object.entries(peaks).filter(([name]) => name !== LOAD_GENERATOR);
  return stack.length === 0 ? null : stack.reduce((a, [, mib]) => a + mib, 0);
}
