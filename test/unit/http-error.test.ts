import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadRequestException,
  HttpException,
  InternalServerErrorException,
  MethodNotAllowedException,
  NotFoundException,
} from '@nestjs/common';

import { DomainError } from '../../src/common/errors.js';
import { toErrorBody } from '../../src/common/http-error.js';

const fastifyError = (code: string, statusCode: number) => Object.assign(new Error('fastify says no'), { code, statusCode });

describe('toErrorBody', () => {
  it('keeps a DomainError’s code, status, message and details', () => {
    const error = new DomainError('INVALID_TASK', 'task is wrong', [{ field: 'task', message: 'bad' }]);
    assert.deepEqual(toErrorBody(error), {
      body: { statusCode: 400, code: 'INVALID_TASK', message: 'task is wrong', details: [{ field: 'task', message: 'bad' }] },
      internal: false,
    });
  });

  it('uses the status of the DomainError code', () => {
    assert.equal(toErrorBody(new DomainError('HANDLER_NOT_FOUND', 'no')).body.statusCode, 404);
    assert.equal(toErrorBody(new DomainError('HANDLER_ARCHIVED', 'no')).body.statusCode, 409);
  });

  it('maps a wrapped Fastify invalid-JSON error to MALFORMED_JSON 400', () => {
    const error = new HttpException('x', 400, { cause: fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400) });
    const { body, internal } = toErrorBody(error);
    assert.equal(body.statusCode, 400);
    assert.equal(body.code, 'MALFORMED_JSON');
    assert.deepEqual(body.details, []);
    assert.equal(internal, false);
  });

  it('maps a wrapped Fastify body-too-large error to PAYLOAD_TOO_LARGE 413', () => {
    const error = new HttpException('x', 413, { cause: fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413) });
    const { body } = toErrorBody(error);
    assert.equal(body.statusCode, 413);
    assert.equal(body.code, 'PAYLOAD_TOO_LARGE');
  });

  it('maps the Fastify error itself when thrown unwrapped', () => {
    assert.equal(toErrorBody(fastifyError('FST_ERR_CTP_EMPTY_JSON_BODY', 400)).body.code, 'MALFORMED_JSON');
    const media = toErrorBody(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).body;
    assert.equal(media.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(media.statusCode, 415);
  });

  it('maps NotFoundException to ROUTE_NOT_FOUND 404', () => {
    const { body, internal } = toErrorBody(new NotFoundException());
    assert.equal(body.statusCode, 404);
    assert.equal(body.code, 'ROUTE_NOT_FOUND');
    assert.equal(internal, false);
  });

  it('maps MethodNotAllowedException to METHOD_NOT_ALLOWED 405', () => {
    const { body } = toErrorBody(new MethodNotAllowedException());
    assert.equal(body.statusCode, 405);
    assert.equal(body.code, 'METHOD_NOT_ALLOWED');
  });

  it('maps another 4xx HttpException to VALIDATION_FAILED with its status', () => {
    const { body, internal } = toErrorBody(new BadRequestException('name must be a string'));
    assert.equal(body.statusCode, 400);
    assert.equal(body.code, 'VALIDATION_FAILED');
    assert.equal(internal, false);
  });

  it('hides a plain Error behind a generic 500', () => {
    const { body, internal } = toErrorBody(new Error('SELECT secret FROM x'));
    assert.equal(body.statusCode, 500);
    assert.equal(body.code, 'INTERNAL_ERROR');
    assert.equal(internal, true);
    assert.ok(!body.message.includes('secret'), body.message);
    assert.ok(!body.message.includes('SELECT'), body.message);
    assert.deepEqual(body.details, []);
  });

  it('hides a 5xx HttpException behind a generic 500', () => {
    const { body, internal } = toErrorBody(new InternalServerErrorException('db password is hunter2'));
    assert.equal(body.statusCode, 500);
    assert.equal(body.code, 'INTERNAL_ERROR');
    assert.equal(internal, true);
    assert.ok(!body.message.includes('hunter2'));
  });

  it('hides a driver error carrying a non-Fastify code', () => {
    const error = Object.assign(new Error("Duplicate entry 'secret' for key"), { code: 'ER_DUP_ENTRY' });
    const { body, internal } = toErrorBody(error);
    assert.equal(body.code, 'INTERNAL_ERROR');
    assert.equal(internal, true);
    assert.ok(!body.message.includes('secret'));
  });

  for (const [label, value] of [
    ['null', null],
    ['undefined', undefined],
    ['a string', 'boom'],
    ['a number', 42],
  ] as const) {
    it(`turns a thrown ${label} into INTERNAL_ERROR`, () => {
      const { body, internal } = toErrorBody(value);
      assert.equal(body.statusCode, 500);
      assert.equal(body.code, 'INTERNAL_ERROR');
      assert.equal(internal, true);
    });
  }
});
