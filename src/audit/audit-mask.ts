import { SECRET_FIELDS } from '../common/app-logger.js';
import { MASK, maskHeaders } from '../handlers/handler-view.js';

/**
 * Field names whose values are credentials wherever they appear in an audited record: the
 * logger's SECRET_FIELDS (src/common/app-logger.ts), the words that mark a header value secret
 * in answers (src/handlers/handler-view.ts), and the names credentials of targets take (a basic
 * password, a bearer token, an OAuth2 client secret, an mTLS private key, a passphrase). A whole
 * object under such a name is masked (`auth: {...}`, `credentials: {...}`).
 */
const SECRET_NAMES = new Set(SECRET_FIELDS.filter((name) => name !== 'headers').map((name) => name.toLowerCase()));
const SECRET_WORDS = /(secret|password|passwd|passphrase|token|credential|authorization|auth|cookie|session|signature|private|api[-_]?key|(^|[-_])key$|[a-z]Key$)/i;
/** Times are never credentials, though named after one (`previous_secret_expires_at`). */
const TIME_NAMES = /(_at|At)$/;
/** Maps of header name → value: a value is masked when its header's name looks secret (as in answers). */
const HEADER_MAPS = new Set(['headers']);
/**
 * Secrets of the service's own formats found inside any text (a name or a reason that quotes
 * one): signing secrets (`whsec_` + base64) and API keys (`pk_` + 43 base64url characters).
 */
const SECRET_TEXT = /whsec_[A-Za-z0-9+/]{16,}={0,2}|pk_[A-Za-z0-9_-]{43}/g;

function isSecretName(name: string): boolean {
  if (TIME_NAMES.test(name)) return false;
  return SECRET_NAMES.has(name.toLowerCase()) || SECRET_WORDS.test(name);
}

/**
 * The one masking of audit rows (src/audit/audit-store.ts applies it to every `before` and
 * `after`): a copy of `value` in which the value of every field named like a secret is MASK
 * (null stays null: there was nothing to hide), header values are masked by their header's
 * name, and secrets of the service's formats are cut out of any text.
 */
export function maskSecrets(value: unknown, name?: string): unknown {
  if (value === null || value === undefined) return value;
  if (name !== undefined && isSecretName(name)) return MASK;
  if (typeof value === 'string') return value.replace(SECRET_TEXT, MASK);
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item));
  if (typeof value === 'object') {
    if (name !== undefined && HEADER_MAPS.has(name) && isStringMap(value)) return maskHeaders(maskSecrets(value) as Record<string, string>);
    const masked: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) masked[key] = maskSecrets(item, key);
    return masked;
  }
  return value;
}

function isStringMap(value: object): value is Record<string, string> {
  return Object.values(value).every((item) => typeof item === 'string');
}
