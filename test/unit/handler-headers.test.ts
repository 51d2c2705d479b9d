import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { headerProblems } from '../../src/handlers/handler-rules.js';
import { MASK, maskHeaders } from '../../src/handlers/handler-view.js';

const fields = (headers: unknown) => headerProblems(headers).map((problem) => problem.field);

describe('headerProblems', () => {
  it('accepts ordinary custom headers', () => {
    assert.deepEqual(headerProblems({ 'X-Tenant': 'acme', Authorization: 'Bearer abc', 'X-Api-Key': 'k' }), []);
    assert.deepEqual(headerProblems({}), []);
  });

  for (const name of ['Content-Type', 'content-type', 'Host', 'HOST', 'Content-Length', 'Transfer-Encoding', 'Connection', 'User-Agent']) {
    it(`refuses the reserved header ${name}`, () => {
      assert.deepEqual(fields({ [name]: 'x' }), [`headers.${name}`]);
    });
  }

  for (const name of ['webhook-id', 'Webhook-Signature', 'WEBHOOK-TIMESTAMP']) {
    it(`refuses the signing header ${name}`, () => {
      assert.deepEqual(fields({ [name]: 'x' }), [`headers.${name}`]);
    });
  }

  for (const name of ['X Bad', '', 'X:Bad', 'X-Bad\r\nInjected', 'Ä', 'x'.repeat(101)]) {
    it(`refuses the bad name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}…` : name)}`, () => {
      assert.deepEqual(fields({ [name]: 'x' }), [`headers.${name}`]);
    });
  }

  it('refuses a value with CR LF', () => {
    assert.deepEqual(fields({ 'X-Tenant': 'acme\r\nX-Injected: 1' }), ['headers.X-Tenant']);
    assert.deepEqual(fields({ 'X-Tenant': 'acme\nx' }), ['headers.X-Tenant']);
    assert.deepEqual(fields({ 'X-Tenant': 'acme\rx' }), ['headers.X-Tenant']);
    assert.deepEqual(fields({ 'X-Tenant': 'acme\0x' }), ['headers.X-Tenant']);
  });

  it('refuses a non-string or over-long value', () => {
    assert.deepEqual(fields({ 'X-Count': 5 }), ['headers.X-Count']);
    assert.deepEqual(fields({ 'X-Obj': { a: 1 } }), ['headers.X-Obj']);
    assert.deepEqual(fields({ 'X-Long': 'v'.repeat(4001) }), ['headers.X-Long']);
    assert.deepEqual(fields({ 'X-Long': 'v'.repeat(4000) }), []);
  });

  it('accepts 20 headers and refuses 21', () => {
    const make = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));
    assert.deepEqual(headerProblems(make(20)), []);
    assert.deepEqual(fields(make(21)), ['headers']);
  });

  for (const [label, value] of [
    ['null', null],
    ['an array', [['X-A', 'b']]],
    ['a string', 'X-A: b'],
  ] as const) {
    it(`refuses headers that are ${label}`, () => {
      assert.deepEqual(fields(value), ['headers']);
    });
  }

  it('lists one problem per bad header', () => {
    assert.deepEqual(fields({ Host: 'x', 'X Bad': 'y', 'X-Ok': 'fine', 'X-Nl': 'a\nb' }).sort(), [
      'headers.Host',
      'headers.X Bad',
      'headers.X-Nl',
    ]);
  });
});

describe('maskHeaders', () => {
  it('masks credential headers and shows the others', () => {
    const masked = maskHeaders({
      Authorization: 'Bearer s3cret',
      'X-Api-Key': 'k-123',
      'X-Auth-Token': 't-456',
      'X-Tenant': 'acme',
    });
    assert.deepEqual(masked, {
      Authorization: MASK,
      'X-Api-Key': MASK,
      'X-Auth-Token': MASK,
      'X-Tenant': 'acme',
    });
  });

  it('masks regardless of case and common spellings', () => {
    const masked = maskHeaders({ authorization: 'a', 'x-apikey': 'b', 'X-API_KEY': 'c', Cookie: 'd', 'X-Client-Secret': 'e' });
    for (const value of Object.values(masked)) assert.equal(value, MASK);
  });

  it('uses a mask that reveals nothing of the value', () => {
    assert.ok(!MASK.includes('s3cret'));
    assert.equal(maskHeaders({ Authorization: 'Bearer s3cret' }).Authorization, MASK);
  });

  it('does not modify the input', () => {
    const input = { Authorization: 'Bearer s3cret' };
    maskHeaders(input);
    assert.equal(input.Authorization, 'Bearer s3cret');
  });
});
