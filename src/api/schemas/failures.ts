import { Type } from '@sinclair/typebox';
import { FailedWorkflowSchema, GroupSchema } from '../../observe/schema';

export const FailuresQuery = Type.Object(
  {
    code: Type.Optional(
      Type.String({ pattern: '^[A-Z_]{1,40}$', description: 'List the failures with this code' }),
    ),
    since: Type.Optional(Type.String({ pattern: '^[0-9.]+(ms|s|m|h|d)$', maxLength: 32, examples: ['5m'] })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 1000 })),
    format: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('text'), Type.Literal('mermaid')], { default: 'json' }),
    ),
  },
  { additionalProperties: false },
);

export const EventFailures = Type.Object({
  eventId: Type.String(),
  query: Type.String({ description: 'The visibility query behind the view' }),
  total: Type.Integer({ minimum: 0 }),
  groups: Type.Array(GroupSchema),
  code: Type.Optional(Type.String()),
  failures: Type.Optional(Type.Array(FailedWorkflowSchema)),
});
