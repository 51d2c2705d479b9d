import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OpenAPIObject } from '@nestjs/swagger';
import { fastifyToOpenApiPath, OpenApiContract, toJsonSchema } from '../utils/openapi-contract.js';

/**
 * The contract check of test/utils/test-app.ts must be able to fail: these cases feed it
 * answers that break a small document in each way it looks for.
 */
const json = (schema: object) => ({ description: '', content: { 'application/json': { schema } } });
const ERROR = { $ref: '#/components/schemas/ErrorResponseDto' };

function document(): OpenAPIObject {
  return {
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths: {
      '/things/{id}': {
        get: {
          responses: {
            '200': json({ $ref: '#/components/schemas/Thing' }),
            '404': json(ERROR),
            default: json(ERROR),
          },
        },
        delete: { responses: { '204': { description: 'gone' } } },
      },
      '/metrics': { get: { responses: { '200': { description: '', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    },
    components: {
      schemas: {
        ErrorResponseDto: {
          type: 'object',
          properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' }, details: { type: 'array' } },
          required: ['statusCode', 'code', 'message', 'details'],
        },
        Thing: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            mode: { type: 'string', enum: ['a', 'b'], nullable: true },
            note: { type: 'string', nullable: true },
            when: { type: 'string', format: 'date-time' },
          },
          required: ['id'],
        },
      },
    },
  } as unknown as OpenAPIObject;
}

const check = (method: string, route: string | undefined, status: number, body: unknown, type = 'application/json; charset=utf-8') => {
  const contract = new OpenApiContract(document());
  contract.check(method, route, status, type, typeof body === 'string' ? body : JSON.stringify(body));
  return contract;
};
const error = (status: number) => ({ statusCode: status, code: 'X', message: 'm', details: [] });

describe('OpenAPI contract check', () => {
  it('accepts an answer that fits, with a nullable field null', () => {
    const contract = check('GET', '/things/:id', 200, { id: 1, note: null, when: '2026-11-30T06:00:00.000Z' });
    assert.deepEqual(contract.violations, []);
    assert.equal(contract.counts.checked, 1);
  });

  it('refuses null in a nullable enum that does not list null (OpenAPI 3.0.3)', () => {
    const contract = check('GET', '/things/:id', 200, { id: 1, mode: null });
    assert.equal(contract.violations.length, 1);
    assert.match(contract.violations[0]!.problem, /mode must be equal to one of the allowed values/);
  });

  it('refuses an undeclared field, a wrong type and a bad date-time', () => {
    assert.match(check('GET', '/things/:id', 200, { id: 1, extra: true }).violations[0]!.problem, /additional properties/);
    assert.match(check('GET', '/things/:id', 200, { id: '1' }).violations[0]!.problem, /must be integer/);
    assert.match(check('GET', '/things/:id', 200, { id: 1, when: 'yesterday' }).violations[0]!.problem, /format/);
  });

  it('uses `default` for undeclared errors only, never for a success status', () => {
    assert.deepEqual(check('GET', '/things/:id', 409, error(409)).violations, []);
    assert.match(check('GET', '/things/:id', 409, { nope: 1 }).violations[0]!.problem, /response default/);
    assert.match(check('GET', '/things/:id', 201, { id: 1 }).violations[0]!.problem, /status 201 is not declared/);
    assert.match(check('DELETE', '/things/:id', 404, error(404)).violations[0]!.problem, /status 404 is not declared/);
  });

  it('refuses a body on a response that declares none, and an undeclared media type', () => {
    assert.match(check('DELETE', '/things/:id', 204, { id: 1 }).violations[0]!.problem, /declares no body/);
    assert.deepEqual(check('DELETE', '/things/:id', 204, '').violations, []);
    assert.match(check('GET', '/metrics', 200, { id: 1 }).violations[0]!.problem, /media type "application\/json" is not declared/);
    assert.deepEqual(check('GET', '/metrics', 200, '# HELP x\n', 'text/plain; version=0.0.4').violations, []);
  });

  it('holds answers without a route to the error schema, flags undocumented routes, skips the listed ones', () => {
    assert.deepEqual(check('GET', undefined, 404, error(404)).violations, []);
    assert.match(check('GET', undefined, 404, '<html>').violations[0]!.problem, /not JSON|does not match/);
    assert.match(check('GET', '/secret-route', 200, {}).violations[0]!.problem, /not in the OpenAPI document/);
    const skipped = check('GET', '/docs/swagger-ui.css', 200, 'body{}', 'text/css');
    assert.deepEqual(skipped.violations, []);
    assert.equal(skipped.counts.checked, 0);
  });

  it('turns `nullable` into a null type and Fastify routes into document paths', () => {
    assert.deepEqual(toJsonSchema({ type: 'string', nullable: true, example: 'x' }, false), { type: ['string', 'null'] });
    assert.equal(fastifyToOpenApiPath('/api/v1/handlers/:id/toggle'), '/api/v1/handlers/{id}/toggle');
  });
});
