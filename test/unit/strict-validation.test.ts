import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/common/errors.js';
import { createValidationPipe, droppedKeyProblems, idParam, parseDecimalInteger } from '../../src/common/validation.js';
import { PageQueryDto } from '../../src/common/pagination.dto.js';
import { CreateApiKeyDto } from '../../src/api-keys/dto/api-key.dto.js';

describe('parseDecimalInteger', () => {
  it('reads plain decimal digits only', () => {
    assert.equal(parseDecimalInteger('38'), 38);
    assert.equal(parseDecimalInteger('0'), 0);
    assert.equal(parseDecimalInteger('9007199254740991'), Number.MAX_SAFE_INTEGER);
    for (const text of ['0x26', '38e0', '+38', ' 38', '38 ', '038', '38.0', '-1', '', '9007199254740992', '12345678901234567890', '1'.repeat(200)]) {
      assert.equal(parseDecimalInteger(text), undefined, text);
    }
    assert.equal(parseDecimalInteger(38), undefined, 'only text is read');
  });
});

describe('idParam', () => {
  it('answers the id, or VALIDATION_FAILED naming the field', () => {
    const pipe = idParam();
    assert.equal(pipe.transform('38', { type: 'param' }), 38);
    for (const text of ['0', '0x26', '38e0', '+38', '1.5', '9007199254740992']) {
      assert.throws(
        () => pipe.transform(text, { type: 'param' }),
        (error: unknown) => error instanceof DomainError && error.code === 'VALIDATION_FAILED' && error.details[0]!.field === 'id',
        text,
      );
    }
  });
});

describe('the validation pipe', () => {
  const pipe = createValidationPipe();
  const body = { type: 'body' as const, metatype: CreateApiKeyDto };

  async function problems(value: unknown, metadata = body): Promise<{ field: string; message: string }[]> {
    try {
      await pipe.transform(value, metadata);
    } catch (error) {
      assert.ok(error instanceof DomainError, String(error));
      return error.details;
    }
    assert.fail('accepted');
  }

  it('refuses constructor, __proto__ and prototype as unknown fields, with the other problems', async () => {
    for (const key of ['constructor', '__proto__', 'prototype']) {
      const value = JSON.parse(`{"name":"k","scopes":["read"],"${key}":{"x":1}}`);
      assert.deepEqual(await problems(value), [{ field: key, message: `property ${key} should not exist` }]);
    }
    const both = await problems(JSON.parse('{"constructor":1,"scopes":["read"]}'));
    assert.equal(both[0]!.field, 'constructor');
    assert.ok(both.some((problem) => problem.field === 'name'));
    assert.deepEqual(droppedKeyProblems({ a: 1 }), []);
  });

  it('says a missing body is missing, and refuses a body that is not an object', async () => {
    assert.deepEqual((await problems(undefined)).map((p) => p.field), ['body']);
    for (const value of [null, [], 'x', 3]) assert.deepEqual((await problems(value)).map((p) => p.field), ['body']);
  });

  it('keeps route parameters as sent, for their own pipe', async () => {
    assert.equal(await pipe.transform('0x26', { type: 'param', metatype: Number, data: 'id' }), '0x26');
  });

  it('bounds paging with one message per field', async () => {
    const query = { type: 'query' as const, metatype: PageQueryDto };
    const page = await problems({ page: '1e18' }, query as never);
    assert.deepEqual(page, [{ field: 'page', message: 'page must be a whole number from 1 to 1000000' }]);
    const fine = (await pipe.transform({ page: '1000000', per_page: '500' }, query)) as PageQueryDto;
    assert.equal(fine.page, 1_000_000);
    assert.equal(fine.per_page, 500);
  });
});
