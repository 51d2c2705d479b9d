/**
 * What one worker holds of each handler (src/dispatcher/dispatcher.service.ts): the deliveries
 * it holds (waiting or started, until recorded), the calls in progress, each handler's cap as
 * last read, and the handlers on hold now (paused, circuit not closed, Retry-After). The flow
 * control of the worker reads these: a handler's calls never pass its cap, and the worker holds
 * at most its cap of calls and as many waiting (src/dispatcher/flow-control.ts).
 */
export class HandlerHoldings {
  /** Per handler: deliveries held here. FlowControl's claim reads it as the worker's share. */
  readonly held = new Map<number, number>();
  /** Per handler: calls in progress. */
  private readonly calling = new Map<number, number>();
  /** Per handler: its cap, as last read. */
  private readonly caps = new Map<number, number>();
  /** Handlers on hold now (paused, circuit not closed, Retry-After), as last read or learnt from an outcome. */
  private readonly onHold = new Set<number>();

  constructor(private readonly defaultCap: number) {}

  /** A delivery of the handler is held here; `cap` is its cap as the claim read it, when it did. */
  hold(handlerId: number, cap?: number): void {
    if (cap !== undefined) this.caps.set(handlerId, cap);
    add(this.held, handlerId, 1);
  }

  /** A delivery of the handler is no longer held here (recorded or handed back). */
  release(handlerId: number): void {
    add(this.held, handlerId, -1);
  }

  startCall(handlerId: number): void {
    add(this.calling, handlerId, 1);
  }

  endCall(handlerId: number): void {
    add(this.calling, handlerId, -1);
  }

  /** What a claim read of a handler: its cap, and whether it is on hold now. */
  learn(handlerId: number, cap: number, onHold: boolean): void {
    this.caps.set(handlerId, cap);
    this.setOnHold(handlerId, onHold);
  }

  /** The handler went on hold or came off it (a claim read it, or an outcome written here changed it). */
  setOnHold(handlerId: number, onHold: boolean): void {
    if (onHold) this.onHold.add(handlerId);
    else this.onHold.delete(handlerId);
  }

  isOnHold(handlerId: number): boolean {
    return this.onHold.has(handlerId);
  }

  /** Is any handler on hold now? */
  get anyOnHold(): boolean {
    return this.onHold.size > 0;
  }

  capOf(handlerId: number): number {
    return this.caps.get(handlerId) ?? this.defaultCap;
  }

  /** Are the handler's calls in progress at its cap? */
  atCallCap(handlerId: number): boolean {
    return (this.calling.get(handlerId) ?? 0) >= this.capOf(handlerId);
  }

  /** Does this worker hold all it may of the handler's deliveries: its cap of calls and as many waiting? */
  isFull(handlerId: number): boolean {
    return (this.held.get(handlerId) ?? 0) >= 2 * this.capOf(handlerId);
  }

  /** Handlers this worker holds all it may of: the claim of a next delivery leaves them out. */
  fullHandlers(): number[] {
    return [...this.held.keys()].filter((handlerId) => this.isFull(handlerId));
  }
}

/** Adds `by` to the count of `key`; a count that reaches 0 leaves the map. */
function add(counts: Map<number, number>, key: number, by: number): void {
  const count = (counts.get(key) ?? (by < 0 ? 1 : 0)) + by;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}
