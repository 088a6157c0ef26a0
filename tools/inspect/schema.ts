/**
 * The JSON output of `ticketdrop workflow … -o json`, as JSON Schemas: the documented, stable contract of
 * the debugging views (docs/INSPECT.md prints them). Fields are only ever added. The type checks at the
 * bottom keep these schemas and the views' TypeScript types in step.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ListFailedResult } from '../../src/observe/failed-workflows';
import { CauseSchema, FailedWorkflowSchema, GroupSchema, Iso } from '../../src/observe/schema';
import type { PendingReport } from './pending';
import type { ShowJson } from './show';
import type { TraceReport } from './trace';

const Optional = Type.Optional;

const StepStatus = Type.Union(
  ['completed', 'failed', 'timed-out', 'cancelled', 'terminated', 'pending'].map((s) => Type.Literal(s)),
);
const WorkflowStatus = Type.Union(
  ['running', 'completed', 'failed', 'timed-out', 'cancelled', 'terminated', 'continued-as-new'].map((s) =>
    Type.Literal(s),
  ),
);

export const StepSchema = Type.Object(
  {
    kind: Type.Union(
      ['activity', 'local-activity', 'child', 'timer', 'signal', 'signal-out', 'update', 'workflow-task'].map(
        (s) => Type.Literal(s),
      ),
    ),
    name: Type.String(),
    status: StepStatus,
    startedAt: Iso,
    offsetMs: Type.Number({ minimum: 0 }),
    durationMs: Optional(Type.Number({ minimum: 0 })),
    attempts: Type.Integer({ minimum: 1 }),
    count: Optional(
      Type.Integer({ minimum: 2, description: 'Identical consecutive steps folded into this one' }),
    ),
    peer: Optional(Type.String({ description: 'Who the step talks to: an entity, a child, a provider' })),
    id: Optional(Type.String()),
    detail: Optional(Type.String()),
    error: Optional(CauseSchema),
  },
  { additionalProperties: false },
);

export const ShowSchema = Type.Object(
  {
    workflows: Type.Array(
      Type.Object(
        {
          workflowId: Type.String(),
          runId: Type.String(),
          type: Type.String(),
          status: WorkflowStatus,
          startedAt: Iso,
          closedAt: Optional(Iso),
          durationMs: Optional(Type.Number({ minimum: 0 })),
          events: Type.Integer({ minimum: 1 }),
          failure: Optional(CauseSchema),
          steps: Type.Array(StepSchema),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ListSchema = Type.Object(
  {
    query: Type.String({ description: 'The visibility query that was run' }),
    total: Type.Integer({ minimum: 0 }),
    failures: Type.Array(FailedWorkflowSchema),
  },
  { additionalProperties: false },
);

export const GroupedListSchema = Type.Object(
  {
    query: Type.String(),
    total: Type.Integer({ minimum: 0 }),
    groupBy: Type.Union([Type.Literal('error'), Type.Literal('type'), Type.Literal('status')]),
    groups: Type.Array(GroupSchema),
  },
  { additionalProperties: false },
);

export const PendingSchema = Type.Object(
  {
    workflowId: Type.String(),
    runId: Type.String(),
    type: Type.String(),
    status: WorkflowStatus,
    startedAt: Iso,
    historyLength: Type.Integer({ minimum: 1 }),
    workflowTask: Optional(
      Type.Object({ attempt: Type.Integer(), state: Type.String() }, { additionalProperties: false }),
    ),
    activities: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          activityId: Type.String(),
          state: Type.Union(
            ['scheduled', 'started', 'cancel-requested', 'paused', 'unknown'].map((s) => Type.Literal(s)),
          ),
          attempt: Type.Integer({ minimum: 1 }),
          maximumAttempts: Type.Integer({ minimum: 0, description: '0: unlimited' }),
          lastFailure: Optional(CauseSchema),
          lastHeartbeatAt: Optional(Iso),
          lastStartedAt: Optional(Iso),
          nextAttemptAt: Optional(Iso),
          expiresAt: Optional(Iso),
        },
        { additionalProperties: false },
      ),
    ),
    children: Type.Array(
      Type.Object({ workflowId: Type.String(), type: Type.String() }, { additionalProperties: false }),
    ),
    updates: Type.Array(
      Type.Object(
        { name: Type.String(), updateId: Type.String(), caller: Optional(Type.String()), acceptedAt: Iso },
        { additionalProperties: false },
      ),
    ),
    timers: Type.Array(
      Type.Object({ timerId: Type.String(), firesAt: Iso }, { additionalProperties: false }),
    ),
    entity: Optional(
      Type.Union([
        Type.Object(
          {
            kind: Type.Literal('queue'),
            joined: Type.Integer({ minimum: 0 }),
            admitted: Type.Integer({ minimum: 0 }),
            waiting: Type.Integer({ minimum: 0 }),
            active: Type.Integer({ minimum: 0 }),
            purchasing: Type.Integer({ minimum: 0 }),
            sold: Type.Integer({ minimum: 0 }),
            capacity: Type.Integer({ minimum: 0 }),
            closed: Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            kind: Type.Literal('seat'),
            seatId: Type.String(),
            status: Type.String(),
            holdExpiresAt: Optional(Iso),
          },
          { additionalProperties: false },
        ),
      ]),
    ),
  },
  { additionalProperties: false },
);

export const TraceSchema = Type.Object(
  {
    workflowId: Type.String(),
    type: Type.String(),
    status: WorkflowStatus,
    steps: Type.Array(
      Type.Object(
        {
          step: Type.String({ description: 'The saga step: reserve, payment, refund, release, …' }),
          ran: Type.String({ description: 'The activity or child workflow type that ran it' }),
          status: Type.Union([StepStatus, Type.Literal('waiting')]),
          compensation: Type.Boolean(),
          attempts: Type.Integer({ minimum: 0 }),
          error: Optional(CauseSchema),
        },
        { additionalProperties: false },
      ),
    ),
    chain: Type.Array(
      Type.Object(
        {
          workflowId: Type.String(),
          type: Type.String(),
          status: WorkflowStatus,
          failure: Optional(CauseSchema),
        },
        { additionalProperties: false },
      ),
    ),
    rootCause: Optional(
      Type.Object(
        {
          code: Optional(Type.String()),
          message: Type.String(),
          source: Optional(Type.String()),
          workflowId: Type.String({ description: 'The workflow where the failure began' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** Every output schema by the command that prints it. */
export const OUTPUT_SCHEMAS: Record<string, TSchema> = {
  'workflow list --failed': ListSchema,
  'workflow list --failed --group-by …': GroupedListSchema,
  'workflow show --compact': ShowSchema,
  'workflow describe --pending': PendingSchema,
  'workflow describe --trace-root-cause': TraceSchema,
};

// Compile-time: what the views produce fits the schemas (JSON turns the TS types into these shapes).
type Fits<A, B> = A extends B ? true : never;
export const schemasMatchTypes: [
  Fits<ShowJson, Static<typeof ShowSchema>>,
  Fits<ListFailedResult, Static<typeof ListSchema>>,
  Fits<PendingReport, Static<typeof PendingSchema>>,
  Fits<TraceReport, Static<typeof TraceSchema>>,
] = [true, true, true, true];
