/** Root causes, compacted messages and Mermaid escaping: pure parts of the debugging views. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { compactMessage, groupKey, rootCause, type ProtoFailure } from '../../src/observe/root-cause';
import { DOC, withSchemas } from '../../tools/inspect/docs';
import { label } from '../../src/observe/mermaid';
import { compactTimeline } from '../../tools/inspect/history';
import { showMermaid, showText } from '../../tools/inspect/show';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { invalidMermaid } from '../support/mermaid';

describe('root causes', () => {
  it('takes wrapper text off and keeps what the message says', () => {
    expect(compactMessage('payment timeout after 500ms (limit 100ms)')).toBe(
      'payment timeout after 500ms (limit 100ms)',
    );
    expect(compactMessage('Error: Activity task failed: payment timeout after 500ms (limit 100ms)')).toBe(
      'payment timeout after 500ms (limit 100ms)',
    );
    expect(compactMessage('ApplicationFailure: card declined\n    at charge (payments.ts:12:3)')).toBe(
      'card declined',
    );
  });

  it('names the deepest link: its failure code and its own message, not the wrappers', () => {
    const failure: ProtoFailure = {
      message: 'Child Workflow execution failed',
      childWorkflowExecutionFailureInfo: { workflowType: { name: 'purchase' } },
      cause: {
        message: 'Activity task failed',
        activityFailureInfo: { activityType: { name: 'chargePayment' } },
        cause: {
          message: 'card declined (charge ch_1)',
          applicationFailureInfo: { type: 'PAYMENT_DECLINED' },
        },
      },
    };
    expect(rootCause(failure)).toEqual({
      code: 'PAYMENT_DECLINED',
      message: 'card declined (charge ch_1)',
      source: 'chargePayment',
    });
  });

  it('describes a timeout by its kind and activity, and groups uncoded causes without per-run ids', () => {
    const timeout: ProtoFailure = {
      message: 'Activity task timed out',
      activityFailureInfo: { activityType: { name: 'chargePayment' } },
      cause: { message: 'activity StartToClose timeout', timeoutFailureInfo: { timeoutType: 1 } },
    };
    expect(rootCause(timeout)).toEqual({
      message: 'chargePayment timed out (start-to-close)',
      source: 'chargePayment',
    });
    expect(
      groupKey({ message: 'no ticket tkt_0123456789abcdef0123 for 01a21c66-5956-7ca4-8745-64a8c8999dbb' }),
    ).toBe('no ticket … for …');
  });
});

describe('Mermaid labels', () => {
  it('keep any error text a valid diagram (checked by the real Mermaid parser)', () => {
    const nasty = [
      'payment timeout after 500ms (limit 100ms)',
      'a: b; c # d',
      'x --> y',
      'end',
      '<script>alert(1)</script>',
      'quote "x"',
      '100% done %%',
      'line\nbreak',
      'back\\slash',
      '{curly} [square] (round) |pipe|',
      'activate p0',
      'deactivate p1',
      'Note over x: y',
      '#35;',
      'end;end',
      '',
      '%%{init: {}}%%',
      'ö'.repeat(300),
    ];
    const diagrams = nasty.flatMap((text) => {
      const l = label(text);
      return [
        `sequenceDiagram\n  participant p0 as ${l}\n  participant p1 as b\n  p0->>p1: ${l}\n  activate p1\n  p1--xp0: ${l}\n  deactivate p1\n  p0-)p1: ${l}\n  Note over p0: ${l}\n`,
        `flowchart LR\n  wf(["${l}"])\n  subgraph g["${l}"]\n    a0["${l}"]:::ok\n  end\n  wf --> a0\n  rc[/"${l}"/]\n  a0 ==> rc\n  classDef ok fill:#e6f4ea\n`,
        `pie title ${l}\n  "${l}" : 3\n`,
      ];
    });
    expect(diagrams).toHaveLength(nasty.length * 3);
    expect(invalidMermaid(diagrams)).toEqual([]);
  });
});

describe('Mermaid in the docs', () => {
  it('every diagram in the docs (README.md, PLAN.md, docs/*.md) parses', () => {
    const root = path.resolve(__dirname, '../..');
    const docs = readdirSync(path.join(root, 'docs'))
      .filter((file) => file.endsWith('.md'))
      .map((file) => path.join('docs', file));
    const diagrams = ['README.md', 'PLAN.md', ...docs].flatMap((file) =>
      [...readFileSync(path.join(root, file), 'utf8').matchAll(/```mermaid\n([\s\S]*?)```/g)].map(
        (m) => m[1]!,
      ),
    );
    expect(diagrams.length).toBeGreaterThanOrEqual(3);
    expect(invalidMermaid(diagrams)).toEqual([]);
  });
});

describe('docs/INSPECT.md', () => {
  it('publishes the JSON schemas the views are checked against (npm run docs:inspect rewrites them)', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(withSchemas(doc)).toBe(doc);
  });
});

describe('a lost workflow task', () => {
  const t = (ms: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, 0, ms)).toISOString();
  const history = historyFromJSON({
    events: [
      {
        eventId: '1',
        eventTime: t(0),
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
        workflowExecutionStartedEventAttributes: {
          workflowType: { name: 'purchase' },
          originalExecutionRunId: 'r1',
        },
      },
      {
        eventId: '2',
        eventTime: t(0),
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
        workflowTaskScheduledEventAttributes: {},
      },
      {
        eventId: '3',
        eventTime: t(500),
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_STARTED',
        workflowTaskStartedEventAttributes: { scheduledEventId: '2' },
      },
      {
        eventId: '4',
        eventTime: t(10_500),
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT',
        workflowTaskTimedOutEventAttributes: {
          scheduledEventId: '2',
          startedEventId: '3',
          timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE',
        },
      },
      {
        eventId: '5',
        eventTime: t(10_500),
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
        workflowTaskScheduledEventAttributes: {},
      },
      {
        eventId: '6',
        eventTime: t(11_000),
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_STARTED',
        workflowTaskStartedEventAttributes: { scheduledEventId: '5' },
      },
      {
        eventId: '7',
        eventTime: t(11_100),
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
        workflowTaskCompletedEventAttributes: { scheduledEventId: '5', startedEventId: '6' },
      },
    ],
  });

  it('is a step of its own: when it started, that it timed out, and what that means', () => {
    const timeline = compactTimeline('purchase-ev-fan', history.events ?? []);
    expect(timeline.steps).toEqual([
      expect.objectContaining({
        kind: 'workflow-task',
        status: 'timed-out',
        startedAt: Date.parse(t(500)),
        endedAt: Date.parse(t(10_500)),
        error: {
          message:
            'start-to-close timeout: the worker did not finish it in time; its local activities run again in the next task',
        },
      }),
    ]);
    expect(showText([timeline])).toContain(
      '+500 ms  ⏱ workflow task        lost [10.0 s]  start-to-close timeout',
    );
    expect(invalidMermaid([showMermaid([timeline])])).toEqual([]);
  });
});
