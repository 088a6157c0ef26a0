/**
 * The failure listing's JSON shapes, served by the API (`GET /events/:eventId/failures`) and printed by
 * the debugging CLI (`workflow list --failed -o json`). Fields are only ever added.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FailureGroup } from './failed-workflows';

const Optional = Type.Optional;
export const Iso = Type.String({ format: 'date-time' });

export const CauseSchema = Type.Object(
  {
    code: Optional(
      Type.String({ description: "The contract's failure code (PAYMENT_DECLINED, SOLD_OUT, …)" }),
    ),
    message: Type.String({ description: 'The root cause, wrapper text taken off' }),
    source: Optional(Type.String({ description: 'The activity or child workflow type it came from' })),
  },
  { additionalProperties: false },
);

export const FailedWorkflowSchema = Type.Object(
  {
    workflowId: Type.String(),
    runId: Type.String(),
    type: Type.String(),
    status: Type.String({ description: 'FAILED, TIMED_OUT, TERMINATED or CANCELLED' }),
    closedAt: Optional(Iso),
    eventId: Optional(Type.String()),
    rootCause: CauseSchema,
    rootWorkflowId: Type.String(),
    error: Type.String(),
    childFailure: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const GroupSchema = Type.Object(
  {
    key: Type.String(),
    count: Type.Integer({ minimum: 1 }),
    percent: Type.Number({ minimum: 0, maximum: 100 }),
    firstSeen: Optional(Iso),
    lastSeen: Optional(Iso),
    example: Type.String({ description: 'One workflow id of the group' }),
  },
  { additionalProperties: false },
);

// Compile-time: what the listing produces fits the schemas.
type Fits<A, B> = A extends B ? true : never;
export const groupSchemaMatchesType: Fits<FailureGroup, Static<typeof GroupSchema>> = true;
