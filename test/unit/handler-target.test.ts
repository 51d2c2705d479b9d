import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_DENIED_NETWORKS } from '../../src/config/app-config.js';
import { expectDomainError } from '../utils/domain-error.js';
import { NetworkPolicy } from '../../src/common/network-policy.js';
import { assertTargetAllowed, parseHttpTask } from '../../src/handlers/handler-target.js';


describe('parseHttpTask', () => {
  it('adds the http scheme to host:port/path', () => {
    assert.equal(parseHttpTask('http', '127.0.0.1:5000/api').href, 'http://127.0.0.1:5000/api');
  });

  it('adds the https scheme to host/path', () => {
    assert.equal(parseHttpTask('https', 'my-domain.org/api').href, 'https://my-domain.org/api');
  });

  it('accepts a full URL of the same scheme', () => {
    assert.equal(parseHttpTask('http', 'http://127.0.0.1:5000/api?x=1').href, 'http://127.0.0.1:5000/api?x=1');
    assert.equal(parseHttpTask('https', 'https://my-domain.org/api').href, 'https://my-domain.org/api');
    assert.equal(parseHttpTask('https', 'HTTPS://My-Domain.org/api').href, 'https://my-domain.org/api');
  });

  it('trims surrounding spaces', () => {
    assert.equal(parseHttpTask('http', '  127.0.0.1:5000/api  ').href, 'http://127.0.0.1:5000/api');
  });

  it('refuses an https:// URL for an http handler', () => {
    expectDomainError(() => parseHttpTask('http', 'https://my-domain.org/api'), 'INVALID_TASK');
  });

  it('refuses an http:// URL for an https handler', () => {
    expectDomainError(() => parseHttpTask('https', 'http://my-domain.org/api'), 'INVALID_TASK');
  });

  it('refuses another scheme', () => {
    expectDomainError(() => parseHttpTask('http', 'ftp://my-domain.org/x'), 'INVALID_TASK');
    expectDomainError(() => parseHttpTask('http', 'file:///etc/passwd'), 'INVALID_TASK');
  });

  it('refuses credentials in the URL', () => {
    expectDomainError(() => parseHttpTask('http', 'user:pw@127.0.0.1:5000/api'), 'INVALID_TASK');
    expectDomainError(() => parseHttpTask('https', 'https://user@my-domain.org/api'), 'INVALID_TASK');
  });

  it('refuses a #fragment', () => {
    expectDomainError(() => parseHttpTask('http', '127.0.0.1:5000/api#frag'), 'INVALID_TASK');
  });

  it('refuses a host with a space', () => {
    expectDomainError(() => parseHttpTask('http', 'exa mple.com/x'), 'INVALID_TASK');
    expectDomainError(() => parseHttpTask('http', 'example.com/a b'), 'INVALID_TASK');
  });

  it('refuses an out-of-range port', () => {
    expectDomainError(() => parseHttpTask('http', '127.0.0.1:99999/api'), 'INVALID_TASK');
  });

  it('refuses an empty task', () => {
    expectDomainError(() => parseHttpTask('http', ''), 'INVALID_TASK');
    expectDomainError(() => parseHttpTask('http', '   '), 'INVALID_TASK');
  });
});

describe('assertTargetAllowed', () => {
  const policy = new NetworkPolicy({ mode: 'open', allow: [], deny: DEFAULT_DENIED_NETWORKS });
  const check = (type: 'http' | 'https', task: string) => () => assertTargetAllowed(parseHttpTask(type, task), policy);

  for (const task of [
    '169.254.169.254/latest/meta-data',
    'http://169.254.169.254/',
    '[fe80::1]/x',
    '[fe80::1]:8080/x',
    '[::ffff:169.254.169.254]/x',
    'metadata.google.internal/computeMetadata/v1',
    'METADATA.GOOGLE.INTERNAL/x',
    'metadata.google.internal./x',
    'metadata/x',
    '2852039166/x', // 169.254.169.254 as one decimal number
    '0xa9fea9fe/x', // 169.254.169.254 in hex
    '0.0.0.0:5000/x',
  ]) {
    it(`forbids ${task}`, () => {
      const error = expectDomainError(check('http', task), 'TARGET_FORBIDDEN');
      assert.equal(error.statusCode, 400);
    });
  }

  for (const task of ['127.0.0.1:5000/api', 'localhost:5000/api', '10.1.2.3/x', 'my-domain.org/api', '[::1]:5000/x']) {
    it(`allows ${task}`, () => {
      assert.doesNotThrow(check('http', task));
    });
  }

  it('applies an allow list to literal addresses', () => {
    const strict = new NetworkPolicy({ mode: 'allowlist', allow: ['10.0.0.0/8'], deny: DEFAULT_DENIED_NETWORKS });
    assert.doesNotThrow(() => assertTargetAllowed(parseHttpTask('http', '10.1.2.3/x'), strict));
    expectDomainError(() => assertTargetAllowed(parseHttpTask('http', '192.168.1.1/x'), strict), 'TARGET_FORBIDDEN');
  });

  it('refuses a literal loopback address in strict mode and says why', () => {
    const strict = new NetworkPolicy({ mode: 'strict', allow: [], deny: DEFAULT_DENIED_NETWORKS });
    const error = expectDomainError(() => assertTargetAllowed(parseHttpTask('http', '127.0.0.1:5000/x'), strict), 'TARGET_FORBIDDEN');
    assert.match(error.message, /strict mode/);
  });
});
