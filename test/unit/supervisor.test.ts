import { spawnService } from '../../tools/dev/services';
import { Supervisor } from '../../tools/dev/supervisor';

/** A real process: runs until killed, or exits with `code` after `afterMs`. */
const node = (name: string, script: string) => async () =>
  spawnService(name, process.execPath, ['-e', script], { logFile: '/dev/null' });
const forever = 'setInterval(() => {}, 1000)';

const eventually = async <T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('not within the time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('the supervisor', () => {
  it('starts a killed service again after a backoff, with a log line each way', async () => {
    const lines: string[] = [];
    const restarted: number[] = [];
    const supervisor = new Supervisor({
      initialBackoffMs: 100,
      log: (line) => lines.push(line),
      onRestart: (_, service) => restarted.push(service.child.pid!),
    });
    try {
      const first = await supervisor.add({ name: 'worker', start: node('worker', forever) });
      first.child.kill('SIGKILL');
      const pid = await eventually(() => restarted[0]);
      expect(pid).not.toBe(first.child.pid);
      expect(supervisor.service('worker')?.child.pid).toBe(pid);
      expect(supervisor.pids()).toEqual({ worker: pid });
      expect(supervisor.restarts()).toEqual({ worker: 1 });
      expect(lines[0]).toMatch(/worker exited unexpectedly \(signal SIGKILL\); restarting it in 100 ms/);
      expect(lines[1]).toBe(`supervisor: worker is back (pid ${pid})`);
    } finally {
      await supervisor.stop();
    }
  });

  it('kills and restarts a service that runs but stops answering its liveness probe', async () => {
    const lines: string[] = [];
    const restarted: number[] = [];
    let wedged = false;
    const supervisor = new Supervisor({
      initialBackoffMs: 10,
      probeIntervalMs: 50,
      deadAfterMs: 300,
      log: (line) => lines.push(line),
      onRestart: (_, service) => restarted.push(service.child.pid!),
    });
    try {
      const first = await supervisor.add({
        name: 'temporal',
        start: node('temporal', forever),
        alive: async () => {
          if (wedged) throw new Error('interrupted (9)');
        },
      });
      // Answering: left alone.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(restarted).toEqual([]);
      wedged = true;
      const pid = await eventually(() => restarted[0]);
      expect(pid).not.toBe(first.child.pid);
      expect(first.child.signalCode).toBe('SIGKILL');
      expect(lines[0]).toMatch(
        /^supervisor: temporal has not answered its liveness probe for \d+ s \(interrupted \(9\)\); killing it$/,
      );
      expect(await supervisor.registry.metrics()).toMatch(
        /ticketdrop_supervisor_unresponsive_total\{service="temporal"\} 1/,
      );
      // The new process answers again, and is left alone.
      wedged = false;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(restarted).toEqual([pid]);
    } finally {
      await supervisor.stop();
    }
  });

  it('gives up on a service that keeps crashing, and restarts nothing once stopped', async () => {
    const gaveUp: string[] = [];
    const supervisor = new Supervisor({
      initialBackoffMs: 10,
      maxRestarts: 3,
      log: () => undefined,
      onGiveUp: (name, reason) => gaveUp.push(`${name}: ${reason}`),
    });
    const other = await supervisor.add({ name: 'api', start: node('api', forever) });
    await supervisor.add({
      name: 'crasher',
      start: node('crasher', 'setTimeout(() => process.exit(3), 50)'),
    });
    const reason = await eventually(() => gaveUp[0]);
    expect(reason).toMatch(/^crasher: crasher exited unexpectedly \(code 3\): 4 exits within 60 s/);
    expect(supervisor.restarts()).toMatchObject({ crasher: 3, api: 0 });
    // What an operator's dashboard reads: every exit and restart, and which services are down.
    const metrics = await supervisor.registry.metrics();
    expect(metrics).toContain('ticketdrop_supervisor_exits_total{service="crasher"} 4');
    expect(metrics).toContain('ticketdrop_supervisor_restarts_total{service="crasher"} 3');
    expect(metrics).toContain('ticketdrop_supervisor_restarts_total{service="api"} 0');
    expect(metrics).toContain('ticketdrop_supervisor_up{service="crasher"} 0');
    expect(metrics).toContain('ticketdrop_supervisor_up{service="api"} 1');

    await supervisor.stop();
    expect(other.child.signalCode ?? other.child.exitCode).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(supervisor.restarts().api).toBe(0);
  });
});
