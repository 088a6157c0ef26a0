/**
 * `npm start`'s supervisor around the real worker: killed with SIGKILL, it is started again by itself, and
 * purchases go on. The worker runs on a task queue of its own, so only it serves this test's purchases.
 */
import path from 'node:path';
import { startNodeService } from '../../tools/dev/services';
import { Supervisor } from '../../tools/dev/supervisor';
import {
  createTestEvent,
  finalStatus,
  openStack,
  startPurchase,
  uniqueId,
  type Stack,
} from '../support/stack';

const taskQueue = uniqueId('supervised');
let stack: Stack;
const lines: string[] = [];
const supervisor = new Supervisor({ log: (line) => lines.push(line) });

beforeAll(async () => {
  stack = await openStack({ taskQueue });
});

afterAll(async () => {
  await supervisor.stop();
  await stack.close();
});

it('starts a killed worker again by itself, and purchases complete on it', async () => {
  const worker = await supervisor.add({
    name: 'worker',
    start: () =>
      startNodeService('worker', 'tools/faults/worker.ts', /worker ready/, {
        env: { ...process.env, TICKETDROP_TASK_QUEUE: taskQueue },
        logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, 'supervised-worker.log'),
      }),
  });
  const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 3 });
  const before = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A1' });
  expect(await finalStatus(stack, before)).toMatchObject({ state: 'completed' });

  worker.child.kill('SIGKILL');
  // Sent while no worker runs: it waits in the task queue for the restarted one.
  const after = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A2' });
  expect(await finalStatus(stack, after, 90_000)).toMatchObject({ state: 'completed', seatId: 'A2' });

  expect(supervisor.restarts()).toEqual({ worker: 1 });
  expect(supervisor.service('worker')?.child.pid).not.toBe(worker.child.pid);
  expect(lines).toEqual([
    expect.stringMatching(
      /^supervisor: worker exited unexpectedly \(signal SIGKILL\); restarting it in 500 ms/,
    ),
    `supervisor: worker is back (pid ${supervisor.service('worker')?.child.pid})`,
  ]);
}, 180_000);
