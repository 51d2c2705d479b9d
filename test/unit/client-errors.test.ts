import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { maxHeaderSize } from 'node:http';
import { clientErrorBody } from '../../src/common/client-errors.js';

const error = (code: string) => Object.assign(new Error(code), { code });

describe('clientErrorBody', () => {
  it('answers each error of the HTTP parser in the error shape, with its own code and status', () => {
    assert.deepEqual(clientErrorBody(error('HPE_HEADER_OVERFLOW')), {
      statusCode: 431,
      code: 'HEADERS_TOO_LARGE',
      message: `The request line and headers are larger than ${maxHeaderSize} bytes`,
      details: [],
    });
    const timeout = clientErrorBody(error('ERR_HTTP_REQUEST_TIMEOUT'));
    assert.equal(timeout.statusCode, 408);
    assert.equal(timeout.code, 'REQUEST_TIMEOUT');
    for (const code of ['HPE_INVALID_METHOD', 'HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_CONSTANT']) {
      const body = clientErrorBody(error(code));
      assert.equal(body.statusCode, 400, code);
      assert.equal(body.code, 'MALFORMED_REQUEST', code);
    }
  });
});
