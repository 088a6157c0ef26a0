import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { FailureCode } from '../../failures';
import { HttpProblem, problemFromTemporal } from '../problem';
import { problemAnswers } from './metrics';

/** Turns any error into problem+json. 5xx bodies never carry internal messages. */
export function toProblem(err: FastifyError | Error): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const temporal = problemFromTemporal(err);
  if (temporal) return temporal;
  const fastifyErr = err as FastifyError;
  if (fastifyErr.validation) return new HttpProblem(FailureCode.VALIDATION, err.message);
  const status = fastifyErr.statusCode;
  if (status && status >= 400 && status < 500) {
    return new HttpProblem(FailureCode.VALIDATION, err.message, { status });
  }
  return new HttpProblem(FailureCode.INTERNAL, 'internal error; see the server log');
}

export default fp(
  async function errors(app: FastifyInstance) {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      const problem = toProblem(err);
      problemAnswers.inc({ code: problem.code, status: String(problem.status) });
      if (problem.status >= 500) request.log.error({ err }, 'request failed');
      if (problem.retryAfterSeconds !== undefined)
        reply.header('retry-after', String(problem.retryAfterSeconds));
      return reply.code(problem.status).type('application/problem+json').send(problem.body());
    });
    app.setNotFoundHandler((request, reply) => {
      const problem = new HttpProblem(FailureCode.NOT_FOUND, `no route ${request.method} ${request.url}`);
      return reply.code(404).type('application/problem+json').send(problem.body());
    });
  },
  { name: 'errors' },
);
