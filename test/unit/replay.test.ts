/**
 * Recorded purchases and seats replay with today's workflow code: a change to a workflow's commands that
 * forgets its `patched()` fails here before it fails a purchase or a seat in flight. The histories in
 * test/fixtures/histories were recorded by older code on a real stack (`temporal workflow show --output
 * json`); the file name says which workflow and outcome each one covers (the seat histories: a task that
 * answered a hold and a dozen tombstones, upserting SeatStatus between their answers; `purchase-completed-retried-first-task-released-at-start`: recorded by worker-stall.test.ts, a lost first task whose retry released its other candidates; `purchase-completed-lost-task-after-hold-late`: a lost later task, from a chaos drop; the `*-waiting-picks*` ones: every outcome of purchases started with `waitForHeldSeats` and `releaseAfterLostTasks` (661e757), one with a lost task and one that waited for a held seat). Add the old code's
 * histories before changing a workflow (.cursorrules: patch, deprecate, remove).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';

const DIR = path.join(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(DIR).filter((file) => file.endsWith('.json'));

describe("recorded purchases and seats replay with today's workflow code", () => {
  let workflowBundle: WorkflowBundle;
  beforeAll(async () => {
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: new DefaultLogger('WARN'),
    });
  }, 120_000);

  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle }, history, file);
  });
});
