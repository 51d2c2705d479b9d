/** A query on the test's database: TypeORM's DataSource.query, or queryDatabase bound to one. */
export type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export interface DeliveryRow {
  id: number;
  eventId: number;
  handlerId: number;
  status: string;
  attempts: number;
}

/**
 * The deliveries of a handler or an event, by id: those in the queue, and those that succeeded,
 * which leave the queue (src/queue/delivery-queue.ts, finishStatements) and are told by their
 * success log rows (the attempt that succeeded is their count of attempts).
 */
export async function deliveryRows(query: Query, by: { handlerId: number } | { eventId: number }): Promise<DeliveryRow[]> {
  const [column, value] = 'handlerId' in by ? ['handler_id', by.handlerId] : ['event_id', by.eventId];
  const queued = await query(`SELECT id, event_id, handler_id, status, attempts FROM deliveries WHERE ${column} = ?`, [value]);
  const delivered = await query(
    `SELECT delivery_id AS id, event_id, handler_id, MAX(attempt) AS attempts FROM execution_logs
      WHERE ${column} = ? AND status = 'success' AND delivery_id IS NOT NULL GROUP BY delivery_id, event_id, handler_id`,
    [value],
  );
  const rows = new Map<number, DeliveryRow>();
  for (const row of delivered) rows.set(Number(row.id), { id: Number(row.id), eventId: Number(row.event_id), handlerId: Number(row.handler_id), status: 'succeeded', attempts: Number(row.attempts) });
  // A row still in the queue is the delivery's state (a success written before it left the queue, in a test that sets rows by hand).
  for (const row of queued) rows.set(Number(row.id), { id: Number(row.id), eventId: Number(row.event_id), handlerId: Number(row.handler_id), status: String(row.status), attempts: Number(row.attempts) });
  return [...rows.values()].sort((a, b) => a.id - b.id);
}
