import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HandlerHoldings } from '../../src/dispatcher/handler-holdings.js';

describe("a worker's holdings per handler", () => {
  it('counts held deliveries and calls, forgets a handler at 0, and is full at twice its cap', () => {
    const holdings = new HandlerHoldings(4);
    holdings.hold(7, 2);
    holdings.hold(7);
    holdings.hold(7);
    assert.equal(holdings.isFull(7), false);
    holdings.hold(7);
    assert.deepEqual([holdings.isFull(7), holdings.fullHandlers()], [true, [7]]);
    for (let i = 0; i < 4; i++) holdings.release(7);
    assert.deepEqual([...holdings.held], []);
    holdings.release(7);
    assert.deepEqual([...holdings.held], [], 'a release past 0 leaves no negative count');
    holdings.startCall(7);
    assert.equal(holdings.atCallCap(7), false);
    holdings.startCall(7);
    assert.equal(holdings.atCallCap(7), true);
    holdings.endCall(7);
    assert.equal(holdings.atCallCap(7), false);
  });

  it('a handler whose cap was never read has the default cap; what a claim read replaces it and says whether it is held', () => {
    const holdings = new HandlerHoldings(3);
    assert.equal(holdings.capOf(9), 3);
    holdings.learn(9, 1, true);
    assert.deepEqual([holdings.capOf(9), holdings.isOnHold(9)], [1, true]);
    holdings.learn(9, 5, false);
    assert.deepEqual([holdings.capOf(9), holdings.isOnHold(9)], [5, false]);
  });
});
