import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_DENIED_NETWORKS } from '../../src/config/app-config.js';
import { NetworkPolicy, parseNetworkList } from '../../src/common/network-policy.js';

describe('parseNetworkList', () => {
  it('turns a single IPv4 address into a /32', () => {
    assert.deepEqual(parseNetworkList('192.168.1.5'), ['192.168.1.5/32']);
  });

  it('turns a single IPv6 address into a /128', () => {
    assert.deepEqual(parseNetworkList('fd00::1'), ['fd00::1/128']);
  });

  it('keeps CIDR networks', () => {
    assert.deepEqual(parseNetworkList('10.0.0.0/8,fd00::/8,0.0.0.0/0'), ['10.0.0.0/8', 'fd00::/8', '0.0.0.0/0']);
  });

  it('trims spaces and skips empty entries', () => {
    assert.deepEqual(parseNetworkList('  10.0.0.0/8 ,  192.168.1.5 ,, fd00::/8  ,'), [
      '10.0.0.0/8',
      '192.168.1.5/32',
      'fd00::/8',
    ]);
    assert.deepEqual(parseNetworkList(''), []);
  });

  const bad = [
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/-1',
    '10.0.0.0/8/9',
    '10.0.0.0/abc',
    '10.0.0.0/8.5',
    'not-an-ip',
    '300.1.1.1',
    'example.com',
    '10.0.0.0/8, bogus',
  ];
  for (const value of bad) {
    it(`throws on ${JSON.stringify(value)}`, () => {
      assert.throws(() => parseNetworkList(value), Error);
    });
  }

  it('does not read an empty prefix ("10.0.0.0/") as /0, i.e. every address', () => {
    let parsed: string[] | undefined;
    try {
      parsed = parseNetworkList('10.0.0.0/');
    } catch {
      parsed = undefined;
    }
    assert.equal(parsed, undefined, `expected a throw, got ${JSON.stringify(parsed)}`);
  });

  it('names the bad entry in the error', () => {
    assert.throws(() => parseNetworkList('10.0.0.0/8, bogus'), /bogus/);
  });

  it('parses every default denied network', () => {
    assert.deepEqual(parseNetworkList(DEFAULT_DENIED_NETWORKS.join(',')), [...DEFAULT_DENIED_NETWORKS]);
  });
});

describe('NetworkPolicy with the default deny list', () => {
  const policy = new NetworkPolicy({ mode: 'open', allow: [], deny: DEFAULT_DENIED_NETWORKS });

  for (const address of [
    '169.254.169.254',
    '169.254.0.1',
    '::ffff:169.254.169.254',
    '::FFFF:169.254.169.254',
    '::ffff:a9fe:a9fe',
    'fe80::1',
    'fd00:ec2::254',
    '100.100.100.200',
    '0.0.0.0',
  ]) {
    it(`denies ${address}`, () => {
      assert.equal(policy.isAllowed(address), false);
    });
  }

  for (const address of ['127.0.0.1', '10.1.2.3', '192.168.1.1', '8.8.8.8', '::1', '2001:db8::1']) {
    it(`allows ${address}`, () => {
      assert.equal(policy.isAllowed(address), true);
    });
  }

  for (const value of ['example.com', '', 'not an ip', '999.1.1.1', '[::1]']) {
    it(`refuses the non-IP string ${JSON.stringify(value)}`, () => {
      assert.equal(policy.isAllowed(value), false);
    });
  }
});

describe('NetworkPolicy in allowlist mode', () => {
  const policy = new NetworkPolicy({ mode: 'allowlist', allow: ['10.0.0.0/8'], deny: DEFAULT_DENIED_NETWORKS });

  it('allows an address inside the allow list', () => {
    assert.equal(policy.isAllowed('10.1.2.3'), true);
  });

  it('denies an address outside the allow list', () => {
    assert.equal(policy.isAllowed('192.168.1.1'), false);
    assert.equal(policy.isAllowed('127.0.0.1'), false);
    assert.equal(policy.isAllowed('2001:db8::1'), false);
  });

  it('deny wins over allow', () => {
    const overlapping = new NetworkPolicy({ mode: 'allowlist', allow: ['10.0.0.0/8', '169.254.0.0/16'], deny: ['10.9.0.0/16', ...DEFAULT_DENIED_NETWORKS] });
    assert.equal(overlapping.isAllowed('10.1.2.3'), true);
    assert.equal(overlapping.isAllowed('10.9.1.1'), false);
    assert.equal(overlapping.isAllowed('169.254.169.254'), false);
  });

  it('an empty deny list with no allow list allows everything', () => {
    const open = new NetworkPolicy({ mode: 'open', allow: [], deny: [] });
    assert.equal(open.isAllowed('169.254.169.254'), true);
    assert.equal(open.isAllowed('fe80::1'), true);
  });
});

describe('NetworkPolicy in strict mode', () => {
  const strict = new NetworkPolicy({ mode: 'strict', allow: [], deny: DEFAULT_DENIED_NETWORKS });

  for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '100.64.0.1', '::1', 'fd12::1', '::ffff:127.0.0.1']) {
    it(`refuses the loopback or private address ${address}`, () => {
      assert.match(strict.refusal(address) ?? '', /strict mode/);
    });
  }

  for (const address of ['8.8.8.8', '2001:db8::1', '172.32.0.1']) {
    it(`allows the public address ${address}`, () => {
      assert.equal(strict.refusal(address), null);
    });
  }

  it('still refuses the metadata address, naming the deny list', () => {
    assert.match(strict.refusal('169.254.169.254') ?? '', /OUTBOUND_DENY_NETWORKS/);
  });

  it('lets the allow list open a private network and keeps the public internet open', () => {
    const withSwitch = new NetworkPolicy({ mode: 'strict', allow: ['10.1.0.0/16'], deny: DEFAULT_DENIED_NETWORKS });
    assert.equal(withSwitch.refusal('10.1.2.3'), null);
    assert.match(withSwitch.refusal('10.2.0.1') ?? '', /strict mode/);
    assert.equal(withSwitch.refusal('8.8.8.8'), null);
  });

  it('never lets the allow list open a denied network', () => {
    const tryingMetadata = new NetworkPolicy({ mode: 'strict', allow: ['169.254.0.0/16'], deny: DEFAULT_DENIED_NETWORKS });
    assert.equal(tryingMetadata.isAllowed('169.254.169.254'), false);
  });
});
