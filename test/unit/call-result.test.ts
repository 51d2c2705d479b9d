import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ABANDONED,
  abandonedCall,
  answeredCall,
  authFailedCall,
  CallResult,
  ERROR_KINDS,
  failedAs,
  failedCall,
  forbiddenCall,
  networkFailure,
  refusedCall,
  scriptCall,
  skippedCall,
  timedOutCall,
  unusableAnswer,
} from '../../src/calls/call-result.js';
import { ForbiddenTargetError } from '../../src/calls/outbound-lookup.js';

/** Every field but the duration, which each case passes in. */
const noAnswer = { ok: false, responseCode: null, responseBody: null, retryAfterMs: null, gone: false, timedOut: false };

describe('answeredCall (an HTTP answer)', () => {
  it('counts a 2xx as a success and keeps the answer', () => {
    assert.deepEqual(answeredCall(200, '{"ok":true}', undefined, 12.5), {
      ok: true, responseCode: 200, responseBody: '{"ok":true}', error: null, errorKind: null, durationMs: 12.5, retryAfterMs: null, gone: false, timedOut: false,
    });
    assert.equal(answeredCall(204, '', undefined, 1).ok, true);
    assert.equal(answeredCall(299, '', undefined, 1).ok, true);
  });

  it('fails a redirect, saying it was not followed', () => {
    const result = answeredCall(302, '', undefined, 3);
    assert.equal(result.ok, false);
    assert.equal(result.responseCode, 302);
    assert.equal(result.error, 'redirect (302) not followed');
  });

  it('fails any other status with the status, keeping what the receiver said', () => {
    const result = answeredCall(500, 'database down', undefined, 3);
    assert.equal(result.ok, false);
    assert.equal(result.error, 'receiver answered 500');
    assert.equal(result.responseBody, 'database down');
    assert.equal(answeredCall(199, '', undefined, 1).error, 'receiver answered 199');
  });

  it('marks a 410 as gone: the receiver wants no more calls', () => {
    assert.equal(answeredCall(410, '', undefined, 1).gone, true);
    assert.equal(answeredCall(404, '', undefined, 1).gone, false);
  });

  it('reads Retry-After on a 429 and a 503 only', () => {
    assert.equal(answeredCall(429, '', '2', 1).retryAfterMs, 2000);
    assert.equal(answeredCall(503, '', '120', 1).retryAfterMs, 120_000);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const wait = answeredCall(503, '', inTenSeconds, 1).retryAfterMs!;
    assert.ok(wait > 8_000 && wait <= 10_000, `waits ${wait} ms`);
    assert.equal(answeredCall(429, '', undefined, 1).retryAfterMs, null);
    assert.equal(answeredCall(429, '', 'soon', 1).retryAfterMs, null);
    assert.equal(answeredCall(500, '', '2', 1).retryAfterMs, null);
  });
});

describe('scriptCall (a script that ran)', () => {
  it('is a success without an error, the exit code where the status would be and the output as the answer', () => {
    assert.deepEqual(scriptCall(0, 'done\n', null, 40), {
      ok: true, responseCode: 0, responseBody: 'done\n', error: null, errorKind: null, durationMs: 40, retryAfterMs: null, gone: false, timedOut: false,
    });
  });

  it('is a failure with its error, keeping what the script wrote', () => {
    const result = scriptCall(3, 'half', 'exit code 3: disk full', 40);
    assert.equal(result.ok, false);
    assert.equal(result.responseCode, 3);
    assert.equal(result.responseBody, 'half');
    assert.equal(result.error, 'exit code 3: disk full');
    assert.equal(result.timedOut, false);
  });

  it('says when it was cut at its timeout (no exit code: it was killed)', () => {
    const result = scriptCall(null, 'partial', 'timeout after 300 ms (the script and everything it started killed)', 301, true);
    assert.equal(result.ok, false);
    assert.equal(result.responseCode, null);
    assert.equal(result.timedOut, true);
  });
});

describe('calls without an answer', () => {
  it('failedCall: the error alone, no time spent unless given', () => {
    assert.deepEqual(failedCall('the task names no valid target'), {
      ...noAnswer, error: 'the task names no valid target', errorKind: 'other', durationMs: 0,
    });
    assert.deepEqual(forbiddenCall('script handlers are disabled (SCRIPT_HANDLERS_ENABLED=false)'), {
      ...noAnswer, error: 'script handlers are disabled (SCRIPT_HANDLERS_ENABLED=false)', errorKind: 'policy_refused', durationMs: 0,
    });
    assert.equal(failedCall('x', 7).durationMs, 7);
  });

  it('timedOutCall: the timeout in the error, and marked as timed out', () => {
    assert.deepEqual(timedOutCall(300, 300.4), { ...noAnswer, error: 'timeout after 300 ms', errorKind: 'timeout', durationMs: 300.4, timedOut: true });
  });

  it('abandonedCall: the instance is shutting down', () => {
    assert.deepEqual(abandonedCall(5), { ...noAnswer, error: ABANDONED, errorKind: 'abandoned', durationMs: 5 });
    assert.equal(ABANDONED, 'abandoned: the instance is shutting down');
  });

  it('authFailedCall: no credential in the error, kind auth; timeout when the token fetch used up the call', () => {
    assert.deepEqual(authFailedCall('OAuth2 token endpoint answered 401 (invalid_client)', 12), {
      ...noAnswer, error: 'authentication failed: OAuth2 token endpoint answered 401 (invalid_client)', errorKind: 'auth', durationMs: 12,
    });
    assert.deepEqual(authFailedCall('OAuth2 token request timed out', 2000, true), {
      ...noAnswer, error: 'authentication failed: OAuth2 token request timed out', errorKind: 'timeout', durationMs: 2000, timedOut: true,
    });
  });

  it('refusedCall: the address and why the outbound policy refuses it', () => {
    assert.deepEqual(refusedCall('169.254.169.254', 'a denied network (OUTBOUND_DENY_NETWORKS)', 0.2), {
      ...noAnswer, error: '169.254.169.254 may not be called: a denied network (OUTBOUND_DENY_NETWORKS)', errorKind: 'policy_refused', durationMs: 0.2,
    });
  });
});

describe('networkFailure', () => {
  const withCode = (code: string, message = 'raw text') => Object.assign(new Error(message), { code });

  it('words the common network errors plainly', () => {
    assert.equal(networkFailure(withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'), 2).error, 'connection refused');
    assert.equal(networkFailure(withCode('ENOTFOUND'), 2).error, 'host name not found');
    assert.equal(networkFailure(withCode('ERR_TLS_CERT_ALTNAME_INVALID'), 2).error, 'TLS certificate does not match the host');
  });

  it('keeps the code of any other error beside its message', () => {
    assert.equal(networkFailure(withCode('UND_ERR_SOCKET', 'other side closed'), 2).error, 'UND_ERR_SOCKET: other side closed');
    assert.equal(networkFailure(new Error('something odd'), 2).error, 'something odd');
  });

  it('passes on the outbound policy\'s refusal at connect time, itself or as the cause', () => {
    const refusal = new ForbiddenTargetError('metadata.attacker.test', '169.254.169.254', 'a denied network (OUTBOUND_DENY_NETWORKS)');
    const expected = 'metadata.attacker.test resolves to 169.254.169.254, which handlers may not call: a denied network (OUTBOUND_DENY_NETWORKS)';
    assert.equal(networkFailure(refusal, 1).error, expected);
    assert.equal(networkFailure(Object.assign(new Error('connect failed'), { code: 'UND_ERR_CONNECT', cause: refusal }), 1).error, expected);
  });

  it('is a failure with no answer and the time spent', () => {
    const result = networkFailure(withCode('ECONNRESET'), 9);
    assert.deepEqual(result, { ...noAnswer, error: 'connection reset by the receiver', errorKind: 'network', durationMs: 9 });
  });
});

describe('failedAs', () => {
  it('counts a call as failed for another reason, keeping what it answered', () => {
    const answered: CallResult = answeredCall(200, 'late', undefined, 900);
    assert.deepEqual(failedAs(answered, 'abandoned at shutdown; the delivery was handed back to the queue', 'abandoned'), {
      ...answered, ok: false, error: 'abandoned at shutdown; the delivery was handed back to the queue', errorKind: 'abandoned',
    });
    const cut = failedAs(timedOutCall(150, 151), 'cut by the decision budget (150 ms) after 150 ms', 'timeout');
    assert.equal(cut.error, 'cut by the decision budget (150 ms) after 150 ms');
    assert.equal(cut.timedOut, true);
  });
});

describe('error kinds (execution_logs.error_kind)', () => {
  const withCode = (code: string, message = 'raw text') => Object.assign(new Error(message), { code });
  const kind = (result: CallResult) => result.errorKind;

  it('names the kind of every failure, and none for a success', () => {
    assert.equal(kind(answeredCall(200, '', undefined, 1)), null);
    assert.equal(kind(scriptCall(0, '', null, 1)), null);
    assert.equal(kind(answeredCall(301, '', undefined, 1)), 'redirect');
    assert.equal(kind(answeredCall(404, '', undefined, 1)), 'http_4xx');
    assert.equal(kind(answeredCall(410, '', undefined, 1)), 'http_4xx');
    assert.equal(kind(answeredCall(429, '', '2', 1)), 'http_4xx');
    assert.equal(kind(answeredCall(500, '', undefined, 1)), 'http_5xx');
    assert.equal(kind(answeredCall(503, '', undefined, 1)), 'http_5xx');
    assert.equal(kind(answeredCall(199, '', undefined, 1)), 'other');
    assert.equal(kind(answeredCall(600, '', undefined, 1)), 'other');
    assert.equal(kind(timedOutCall(10, 10)), 'timeout');
    assert.equal(kind(scriptCall(null, '', 'timeout after 300 ms (the script and everything it started killed)', 301, true)), 'timeout');
    assert.equal(kind(scriptCall(3, '', 'exit code 3', 1)), 'script_exit');
    assert.equal(kind(scriptCall(null, '', 'killed by SIGKILL', 1)), 'script_exit');
    assert.equal(kind(scriptCall(null, '', ABANDONED, 1)), 'abandoned');
    assert.equal(kind(abandonedCall(1)), 'abandoned');
    assert.equal(kind(skippedCall('handler is disabled')), 'skipped');
    assert.equal(skippedCall('handler is disabled').error, 'handler is disabled');
    assert.equal(kind(forbiddenCall('script handlers are disabled (SCRIPT_HANDLERS_ENABLED=false)')), 'policy_refused');
    assert.equal(kind(refusedCall('10.0.0.1', 'a private network', 0)), 'policy_refused');
    assert.equal(kind(failedCall('x')), 'other');
    assert.equal(kind(failedCall('x', 0, 'timeout')), 'timeout');
    const shape = unusableAnswer(answeredCall(200, '{"data":{"id":"x"}}', undefined, 5), 'answered data of the wrong shape: id must be an integer');
    assert.deepEqual([shape.ok, shape.errorKind, shape.responseCode, shape.error], [false, 'bad_answer', 200, 'answered data of the wrong shape: id must be an integer']);
  });

  it('sorts network errors by their code: refused, DNS, TLS, the connection, time limits, the outbound policy, anything else', () => {
    assert.equal(kind(networkFailure(withCode('ECONNREFUSED'), 1)), 'connection_refused');
    for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'ESERVFAIL']) assert.equal(kind(networkFailure(withCode(code), 1)), 'dns', code);
    for (const code of ['CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN']) {
      assert.equal(kind(networkFailure(withCode(code), 1)), 'tls', code);
    }
    for (const code of ['ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET']) assert.equal(kind(networkFailure(withCode(code), 1)), 'network', code);
    const refusal = new ForbiddenTargetError('metadata.attacker.test', '169.254.169.254', 'a denied network (OUTBOUND_DENY_NETWORKS)');
    assert.equal(kind(networkFailure(refusal, 1)), 'policy_refused');
    assert.equal(kind(networkFailure(Object.assign(new Error('connect failed'), { code: 'UND_ERR_CONNECT', cause: refusal }), 1)), 'policy_refused');
    assert.equal(kind(networkFailure(new Error('something odd'), 1)), 'other');
    for (const code of ['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']) assert.equal(kind(networkFailure(withCode(code), 1)), 'timeout', code);
    assert.equal(kind(networkFailure(withCode('ERR_SOMETHING_NEW'), 1)), 'other');
  });

  it('has a fixed list of kinds, each at most 20 characters (the column)', () => {
    assert.deepEqual([...ERROR_KINDS], [
      'timeout', 'connection_refused', 'network', 'dns', 'tls', 'http_4xx', 'http_5xx', 'redirect', 'script_exit', 'policy_refused', 'auth', 'bad_answer', 'skipped', 'abandoned', 'other',
    ]);
    for (const name of ERROR_KINDS) assert.ok(name.length <= 20, name);
  });
});
