import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import { DomainError, FieldProblem } from '../common/errors.js';
import { NetworkPolicy } from '../common/network-policy.js';
import type { ClientCertificateDto, ClientCertificateViewDto, TargetAuthDto, TargetAuthViewDto } from './dto/handler-credentials.dto.js';
import { AuthType, HandlerEntity, TargetAuthSettings } from './handler.entity.js';
import { assertTargetAllowed } from './handler-target.js';

/**
 * Target credentials: how a handler proves itself to its target. Per handler, one header kind
 * (`auth`: HTTP basic, a bearer token or an OAuth2 client-credentials grant) and, for https
 * handlers, an mTLS client certificate; either, both or none. Their secrets (the password,
 * token or client secret, and the private key) are write-only: taken on create and edit,
 * used by calls (src/calls/target-auth.ts), never shown. Answers show the kind and the public
 * settings (authView, certificateView).
 */
export type HandlerCredentials = Pick<HandlerEntity, 'auth' | 'authSecret' | 'clientCert' | 'clientKey' | 'clientCa'>;

export const NO_CREDENTIALS: Readonly<HandlerCredentials> = Object.freeze({ auth: null, authSecret: null, clientCert: null, clientKey: null, clientCa: null });

type AuthField = Exclude<keyof TargetAuthDto, 'type'>;

/** Per kind: the public settings it needs, those it may have, and the name of its secret. */
const AUTH_KINDS: Record<AuthType, { required: AuthField[]; optional: AuthField[]; secret: AuthField }> = {
  basic: { required: ['username'], optional: [], secret: 'password' },
  bearer: { required: [], optional: [], secret: 'token' },
  oauth2: { required: ['token_url', 'client_id'], optional: ['scope', 'audience'], secret: 'client_secret' },
};
const AUTH_FIELDS: AuthField[] = ['username', 'password', 'token', 'token_url', 'client_id', 'client_secret', 'scope', 'audience'];
/** Line breaks, tabs and other control characters: none belongs in a header, a form field or a URL. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The auth of a create or an edit, as stored: its public settings and its secret. A secret
 * left out keeps the stored one when the kind stays the same (answers never show it, so an
 * edit of the public settings cannot send it back).
 */
export function authFromInput(input: TargetAuthDto, stored: HandlerCredentials): Pick<HandlerCredentials, 'auth' | 'authSecret'> {
  const kind = AUTH_KINDS[input.type];
  const problems: FieldProblem[] = [];
  for (const field of AUTH_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    if (field !== kind.secret && !kind.required.includes(field) && !kind.optional.includes(field)) {
      problems.push({ field: `auth.${field}`, message: `auth.${field} is not used by auth type ${input.type}` });
    } else if (CONTROL.test(value)) {
      problems.push({ field: `auth.${field}`, message: `auth.${field} must not hold line breaks, tabs or other control characters` });
    }
  }
  for (const field of kind.required) {
    if (input[field] === undefined) problems.push({ field: `auth.${field}`, message: `auth.${field} is required for auth type ${input.type}` });
  }
  if (input.username?.includes(':')) problems.push({ field: 'auth.username', message: 'auth.username must not hold a colon (HTTP basic separates it from the password with one)' });
  const secret = input[kind.secret] ?? (stored.auth?.type === input.type ? stored.authSecret : null) ?? null;
  if (secret === null) {
    problems.push({ field: `auth.${kind.secret}`, message: `auth.${kind.secret} is required for auth type ${input.type} (it is kept on an edit only while the type stays ${stored.auth?.type ?? 'the same'})` });
  }
  if (problems.length > 0) throw new DomainError('VALIDATION_FAILED', 'Request validation failed', problems);
  const auth: TargetAuthSettings = { type: input.type };
  for (const field of [...kind.required, ...kind.optional]) {
    const value = input[field];
    if (value !== undefined) (auth as unknown as Record<string, string>)[field] = value;
  }
  return { auth, authSecret: secret };
}

/**
 * The client certificate of a create or an edit, as stored, after checking that the
 * certificate parses and has not expired, the key parses (unencrypted) and is the
 * certificate's, and the CA certificates parse. A key left out keeps the stored one, which
 * must then be the new certificate's.
 */
export function certificateFromInput(input: ClientCertificateDto, stored: HandlerCredentials, now = Date.now()): Pick<HandlerCredentials, 'clientCert' | 'clientKey' | 'clientCa'> {
  const key = input.key ?? stored.clientKey;
  if (key === null) throw DomainError.field('VALIDATION_FAILED', 'client_certificate.key', 'client_certificate.key is required: the private key of the certificate (PEM)');
  const certificate = parseCertificates(input.cert, 'INVALID_CLIENT_CERTIFICATE', 'client_certificate.cert')[0]!;
  const validTo = Date.parse(certificate.validTo);
  if (validTo < now) {
    throw DomainError.field('INVALID_CLIENT_CERTIFICATE', 'client_certificate.cert', `The client certificate expired on ${new Date(validTo).toISOString()}`);
  }
  const privateKey = parsePrivateKey(key);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw DomainError.field('CLIENT_KEY_MISMATCH', 'client_certificate.key', `The private key is not the key of the certificate ${oneLine(certificate.subject)}`);
  }
  if (input.ca !== undefined) parseCertificates(input.ca, 'INVALID_CA_CERTIFICATE', 'client_certificate.ca');
  return { clientCert: input.cert, clientKey: key, clientCa: input.ca ?? null };
}

/**
 * Rules on the complete handler, on every save: credentials belong to http/https handlers,
 * a client certificate to https ones; an OAuth2 token URL passes the same target rules as the
 * handler's task (a full URL, the outbound policy); the Authorization header is the auth's.
 */
export function assertValidCredentials(handler: HandlerEntity, policy: NetworkPolicy): void {
  if (handler.type === 'script') {
    if (handler.auth != null) throw DomainError.field('VALIDATION_FAILED', 'auth', 'auth applies only to http and https handlers');
    if (handler.clientCert != null) throw DomainError.field('VALIDATION_FAILED', 'client_certificate', 'client_certificate applies only to https handlers');
    return;
  }
  if (handler.clientCert != null && handler.type !== 'https') {
    throw DomainError.field('CLIENT_CERTIFICATE_NEEDS_HTTPS', 'client_certificate', 'A client certificate is sent only over TLS: the handler type must be https');
  }
  if (handler.auth == null) return;
  const custom = Object.keys(handler.headers ?? {}).find((name) => name.toLowerCase() === 'authorization');
  if (custom !== undefined) {
    throw DomainError.field('VALIDATION_FAILED', `headers.${custom}`, `headers.${custom} conflicts with auth, which sets the Authorization header; remove one of them`);
  }
  if (handler.auth.type === 'oauth2') assertTargetAllowed(parseTokenUrl(handler.auth.token_url ?? ''), policy, 'auth.token_url');
}

/**
 * An OAuth2 token URL: a full http:// or https:// URL, without credentials or a fragment (the
 * rules of a handler's task, src/handlers/handler-target.ts, with the scheme required).
 */
export function parseTokenUrl(text: string): URL {
  const invalid = (message: string) => DomainError.field('INVALID_TOKEN_URL', 'auth.token_url', message);
  const trimmed = text.trim();
  let url: URL | null = null;
  try {
    url = /^https?:\/\//i.test(trimmed) && !/\s/.test(trimmed) ? new URL(trimmed) : null;
  } catch {
    url = null;
  }
  if (url === null || !url.hostname) throw invalid('auth.token_url must be a full http:// or https:// URL');
  if (url.username || url.password) throw invalid('auth.token_url must not carry credentials: client_id and client_secret are sent apart');
  if (url.hash) throw invalid('auth.token_url must not contain a #fragment');
  return url;
}

/** The auth as answers show it: the kind and its public settings, and that a secret is stored. */
export function authView(handler: Pick<HandlerEntity, 'auth' | 'authSecret'>): TargetAuthViewDto | null {
  if (handler.auth === null || handler.auth === undefined) return null;
  return { ...handler.auth, has_secret: handler.authSecret !== null && handler.authSecret !== undefined };
}

/** Certificate details by PEM: a list of handlers does not parse the same certificate again and again. */
const described = new Map<string, Omit<ClientCertificateViewDto, 'has_key' | 'has_ca'>>();

/** The client certificate as answers show it: subject, issuer, validity, fingerprint; never the key. */
export function certificateView(handler: Pick<HandlerEntity, 'clientCert' | 'clientKey' | 'clientCa'>): ClientCertificateViewDto | null {
  if (handler.clientCert === null || handler.clientCert === undefined) return null;
  let details = described.get(handler.clientCert);
  if (!details) {
    details = describeCertificate(handler.clientCert);
    if (described.size >= 1000) described.clear();
    described.set(handler.clientCert, details);
  }
  return { ...details, has_key: handler.clientKey !== null && handler.clientKey !== undefined, has_ca: handler.clientCa !== null && handler.clientCa !== undefined };
}

function describeCertificate(pem: string): Omit<ClientCertificateViewDto, 'has_key' | 'has_ca'> {
  try {
    const certificate = new X509Certificate(pem);
    return {
      subject: oneLine(certificate.subject),
      issuer: oneLine(certificate.issuer),
      valid_from: new Date(Date.parse(certificate.validFrom)).toISOString(),
      valid_to: new Date(Date.parse(certificate.validTo)).toISOString(),
      fingerprint256: certificate.fingerprint256,
    };
  } catch {
    return { subject: null, issuer: null, valid_from: null, valid_to: null, fingerprint256: null };
  }
}

/** `CN=a\nO=b` as `CN=a, O=b`. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** The PEM blocks of `text` with their labels; null when anything but blocks and white space is there. */
function pemBlocks(text: string): { label: string; pem: string }[] | null {
  const blocks = [...text.matchAll(PEM_BLOCK)].map((match) => ({ label: match[1]!, pem: match[0] }));
  return text.replace(PEM_BLOCK, '').trim() === '' ? blocks : null;
}

/**
 * One or more PEM certificates, each parsed. Anything else in the text is refused: a private
 * key pasted with its certificate would otherwise be kept where no secret is expected.
 */
function parseCertificates(text: string, code: 'INVALID_CLIENT_CERTIFICATE' | 'INVALID_CA_CERTIFICATE', field: string): X509Certificate[] {
  const blocks = pemBlocks(text);
  if (blocks === null || blocks.length === 0 || blocks.some((block) => block.label !== 'CERTIFICATE')) {
    throw DomainError.field(code, field, `${field} must hold PEM certificates (-----BEGIN CERTIFICATE-----) and nothing else`);
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block.pem);
    } catch {
      throw DomainError.field(code, field, `${field}: certificate ${index + 1} is not a valid X.509 certificate`);
    }
  });
}

/** An unencrypted PEM private key (PKCS#8, or PKCS#1 RSA / SEC1 EC, EC parameters allowed before it). */
function parsePrivateKey(text: string): KeyObject {
  const blocks = pemBlocks(text);
  const keys = blocks?.filter((block) => block.label.endsWith('PRIVATE KEY')) ?? [];
  if (blocks === null || keys.length !== 1 || blocks.some((block) => !block.label.endsWith('PRIVATE KEY') && block.label !== 'EC PARAMETERS')) {
    throw DomainError.field('INVALID_CLIENT_KEY', 'client_certificate.key', 'client_certificate.key must hold one PEM private key (-----BEGIN PRIVATE KEY-----) and nothing else');
  }
  const block = keys[0]!;
  if (block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block.pem)) {
    throw DomainError.field('INVALID_CLIENT_KEY', 'client_certificate.key', 'client_certificate.key is encrypted: give it without a passphrase');
  }
  try {
    return createPrivateKey(block.pem);
  } catch {
    throw DomainError.field('INVALID_CLIENT_KEY', 'client_certificate.key', 'client_certificate.key is not a valid private key');
  }
}
