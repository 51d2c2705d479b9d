import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/common/errors.js';
import { findProtoKey, MAY_HAVE_PROTO_KEY, parseJsonBody, scanJson, TOO_DEEP } from '../../src/common/json-body.js';

const depth = (text: string, maxDepth: number) => {
  const scan = scanJson(text, maxDepth);
  return scan === TOO_DEEP ? TOO_DEEP : scan % MAY_HAVE_PROTO_KEY;
};
const mayHaveProtoKey = (text: string) => scanJson(text, 64) >= MAY_HAVE_PROTO_KEY;

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

function refused(text: string, maxDepth: number): DomainError {
  try {
    parseJsonBody(text, maxDepth);
  } catch (error) {
    assert.ok(error instanceof DomainError, String(error));
    return error;
  }
  assert.fail(`accepted ${text.slice(0, 80)}`);
}

describe('scanJson', () => {
  it('measures the nesting of objects and arrays', () => {
    assert.equal(depth('1', 64), 0);
    assert.equal(depth('{}', 64), 1);
    assert.equal(depth('{"a":[1,{"b":[]}],"c":{}}', 64), 4);
    assert.equal(depth(nested(64), 64), 64);
    assert.equal(depth(nested(65), 64), TOO_DEEP);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    assert.equal(depth(`{"a":"${'['.repeat(100)}"}`, 3), 1);
    assert.equal(depth(String.raw`{"a":"\"[[[[[","b":"\\","c":[]}`, 3), 2);
    assert.equal(depth(String.raw`["\\\"{{{{"]`, 2), 1);
  });

  it('flags strings that may decode to __proto__, escaped or not', () => {
    assert.equal(mayHaveProtoKey('{"a":"b"}'), false);
    assert.equal(mayHaveProtoKey('{"__proto__":1}'), true);
    assert.equal(mayHaveProtoKey(String.raw`{"\u005f_proto__":1}`), true);
    assert.equal(mayHaveProtoKey(String.raw`{"\u005F\u005Fproto\u005F\u005F":1}`), true);
    assert.equal(mayHaveProtoKey('{"__proto_x":1,"_proto__":2}'), false);
  });
});

describe('parseJsonBody', () => {
  it('answers undefined for an empty body and the value otherwise', () => {
    assert.equal(parseJsonBody('', 64), undefined);
    assert.deepEqual(parseJsonBody('{"a":[1,2]}', 64), { a: [1, 2] });
    assert.equal(parseJsonBody('null', 64), null);
  });

  it('refuses nesting deeper than the limit with JSON_TOO_DEEP, before parsing', () => {
    const error = refused(`{"name":${nested(10_000)}}`, 64);
    assert.equal(error.code, 'JSON_TOO_DEEP');
    assert.deepEqual(error.details.map((d) => d.field), ['body']);
    assert.equal(refused(nested(9), 8).code, 'JSON_TOO_DEEP');
    assert.deepEqual(parseJsonBody(nested(8), 8), JSON.parse(nested(8)));
    // Too deep wins even when the text is not JSON: nothing recursive may see it.
    assert.equal(refused('['.repeat(100), 64).code, 'JSON_TOO_DEEP');
  });

  it('refuses text that is not JSON with MALFORMED_JSON', () => {
    for (const text of ['{', ' ', '{"a":}', "{'a':1}", '{"a":"unterminated']) {
      assert.equal(refused(text, 64).code, 'MALFORMED_JSON', text);
    }
  });

  it('refuses a __proto__ key anywhere, naming its path, and never sets a prototype', () => {
    const top = refused('{"__proto__":{"polluted":true}}', 64);
    assert.equal(top.code, 'VALIDATION_FAILED');
    assert.deepEqual(top.details, [{ field: '__proto__', message: 'property __proto__ should not exist' }]);
    assert.equal(refused(String.raw`{"data":{"list":[1,{"\u005f_proto__":{}}]}}`, 64).details[0]!.field, 'data.list.1.__proto__');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // As a value, it is only text.
    assert.deepEqual(parseJsonBody('{"name":"__proto__"}', 64), { name: '__proto__' });
  });
});

describe('findProtoKey', () => {
  it('finds only own __proto__ keys', () => {
    assert.equal(findProtoKey({ a: { b: [{}] } }), null);
    assert.equal(findProtoKey(JSON.parse('[{"x":{"__proto__":1}}]')), '0.x.__proto__');
  });
});
