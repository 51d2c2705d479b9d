/** A valid create-handler body; override any field. */
export function handlerBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'CRM hook',
    event: 'clients.create',
    type: 'http',
    task: '127.0.0.1:5000/api',
    priority: 10,
    ...overrides,
  };
}
