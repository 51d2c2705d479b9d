import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_DENIED_NETWORKS } from '../../src/config/app-config.js';
import { embeddedIPv4, NetworkPolicy, parseNetworkList } from '../../src/common/network-policy.js';

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

describe('IPv6 forms that embed an IPv4 address are judged by that address too', () => {
  const open = new NetworkPolicy({ mode: 'open', allow: [], deny: DEFAULT_DENIED_NETWORKS });
  const strict = new NetworkPolicy({ mode: 'strict', allow: [], deny: DEFAULT_DENIED_NETWORKS });

  // [form, address embedding 169.254.169.254 (denied), the same form embedding 8.8.8.8 (public)]
  const forms: [string, string, string][] = [
    ['NAT64 well-known prefix 64:ff9b::/96', '64:ff9b::a9fe:a9fe', '64:ff9b::808:808'],
    ['NAT64 well-known prefix, dotted', '64:ff9b::169.254.169.254', '64:ff9b::8.8.8.8'],
    ['NAT64 local-use 64:ff9b:1::/48 (read as a /96)', '64:ff9b:1::a9fe:a9fe', '64:ff9b:1::808:808'],
    ['NAT64 local-use 64:ff9b:1::/48 with a host part', '64:ff9b:1:2::a9fe:a9fe', '64:ff9b:1:2::808:808'],
    ['6to4 2002::/16', '2002:a9fe:a9fe::', '2002:808:808::'],
    ['6to4 with a host part', '2002:a9fe:a9fe:1::1', '2002:808:808:1::1'],
    ['IPv4-compatible ::/96', '::a9fe:a9fe', '::808:808'],
    ['IPv4-compatible, dotted', '::169.254.169.254', '::8.8.8.8'],
    ['IPv4-mapped, dotted', '::ffff:169.254.169.254', '::ffff:8.8.8.8'],
    ['IPv4-mapped, hex', '::ffff:a9fe:a9fe', '::ffff:808:808'],
    ['IPv4-mapped, written out', '0:0:0:0:0:ffff:a9fe:a9fe', '0:0:0:0:0:ffff:808:808'],
    ['IPv4-translated ::ffff:0:0/96', '::ffff:0:a9fe:a9fe', '::ffff:0:808:808'],
    // Teredo: server 65.54.227.120 (4136:e378), client = NOT of the last 32 bits (5601:5601 → a9fe:a9fe).
    ['Teredo 2001::/32 (client is the NOT of the last 32 bits)', '2001:0:4136:e378:8000:63bf:5601:5601', '2001:0:4136:e378:8000:63bf:f7f7:f7f7'],
  ];
  for (const [label, denied, publicForm] of forms) {
    it(`${label}: refuses ${denied}, naming the embedded address; allows ${publicForm}`, () => {
      const reason = open.refusal(denied);
      assert.match(reason ?? '', /OUTBOUND_DENY_NETWORKS/, `${denied} was allowed`);
      assert.match(reason ?? '', /169\.254\.169\.254/);
      assert.equal(open.refusal(publicForm), null, `${publicForm} was refused: ${open.refusal(publicForm)}`);
    });
  }

  it('strict mode refuses an embedded loopback or private IPv4 address (NAT64 of 127.0.0.1, 6to4 of 10.0.0.1)', () => {
    assert.match(strict.refusal('64:ff9b::7f00:1') ?? '', /strict mode.*127\.0\.0\.1/);
    assert.match(strict.refusal('2002:a00:1::') ?? '', /strict mode.*10\.0\.0\.1/);
    assert.equal(strict.refusal('64:ff9b::808:808'), null);
  });

  it('keeps ::1 and :: as themselves (open mode allows loopback), and plain global IPv6 untouched', () => {
    assert.equal(open.refusal('::1'), null);
    assert.equal(open.refusal('2001:db8::1'), null);
    assert.equal(open.refusal('2a00:1450:4001:82b::200e'), null);
  });

  it('a denied embedded address is refused even when the allow list opens the IPv6 form', () => {
    const allowlist = new NetworkPolicy({ mode: 'allowlist', allow: ['64:ff9b::/96'], deny: DEFAULT_DENIED_NETWORKS });
    assert.equal(allowlist.refusal('64:ff9b::808:808'), null);
    assert.match(allowlist.refusal('64:ff9b::a9fe:a9fe') ?? '', /OUTBOUND_DENY_NETWORKS/);
  });
});

describe('embeddedIPv4', () => {
  it('reads each form', () => {
    assert.deepEqual(embeddedIPv4('64:ff9b::c000:221'), ['192.0.2.33']);
    assert.deepEqual(embeddedIPv4('2002:c000:221::1'), ['192.0.2.33']);
    assert.deepEqual(embeddedIPv4('::ffff:0:c000:221'), ['192.0.2.33']);
    assert.deepEqual(embeddedIPv4('2001:0:4136:e378:8000:63bf:3fff:fdd2'), ['65.54.227.120', '192.0.2.45']);
    assert.deepEqual(embeddedIPv4('64:ff9b:1::c000:221'), ['192.0.2.33']);
    assert.deepEqual(embeddedIPv4('::c000:221'), ['192.0.2.33']);
  });
  it('finds nothing in other addresses', () => {
    for (const address of ['2001:db8::1', '::1', '::', 'fe80::1', '8.8.8.8', 'not-an-ip']) assert.deepEqual(embeddedIPv4(address), [], address);
  });
});
