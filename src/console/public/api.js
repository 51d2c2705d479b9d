// The REST API as the console uses it: Bearer key from this tab's sessionStorage, JSON in and out.

const KEY_STORAGE = 'provisioning-console.key';

/** The API key lives in sessionStorage: one browser tab, gone when the tab closes. */
export const session = {
  get key() {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  set(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  clear() {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

/** An error answer of the API: {statusCode, code, message, details: [{field, message}]}. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `The server answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code || 'HTTP_' + status;
    this.details = Array.isArray(body?.details) ? body.details : [];
  }
}

let onUnauthorized = () => undefined;

/** Called when the API refuses the stored key (revoked, unknown): the console asks for a key again. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/**
 * Calls the API; answers the parsed JSON body (null for 204) or throws an ApiError.
 * `query` entries that are undefined, null or '' are left out.
 */
export async function api(method, path, { query, body, key = session.key } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, { code: 'NETWORK', message: 'The service cannot be reached' });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && key === session.key) onUnauthorized(error);
    throw error;
  }
  return data;
}
