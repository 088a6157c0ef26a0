/** Root causes, compacted messages and Mermaid escaping: pure parts of the debugging views. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compactMessage, groupKey, rootCause, type ProtoFailure } from '../../src/inspect/failure';
import { DOC, withSchemas } from '../../src/inspect/docs';
import { label } from '../../src/inspect/mermaid';
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
  it('every diagram in README.md and PLAN.md parses', () => {
    const root = path.resolve(__dirname, '../..');
    const diagrams = ['README.md', 'PLAN.md'].flatMap((file) =>
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
