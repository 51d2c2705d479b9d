import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PEM certificate and its private key. */
export interface Issued {
  cert: string;
  key: string;
}

/**
 * Certificates for mTLS tests, made with `openssl` in a temporary folder and deleted with it:
 * a throwaway CA, a server certificate for 127.0.0.1 and two client certificates issued by it,
 * a client certificate of another CA (which the server must refuse), an expired one, and a
 * passphrase-encrypted copy of a client key. EC P-256 keys: fast to make.
 */
export class ThrowawayCa {
  readonly ca: Issued;
  readonly server: Issued;
  readonly client: Issued;
  readonly otherClient: Issued;
  readonly rogueClient: Issued;
  readonly expiredClient: Issued;
  /** `client.key` encrypted with the passphrase "test". */
  readonly encryptedClientKey: string;

  private constructor(dir: string) {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    const read = (name: string): Issued => ({ cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') });
    openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Throwaway test CA');
    openssl('req', '-x509', ...ec, '-keyout', 'rogue-ca.key', '-out', 'rogue-ca.crt', '-days', '2', '-subj', '/CN=Rogue test CA');
    writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    const issue = (name: string, commonName: string, ca: string, days: number, extensions?: string) => {
      openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`);
      openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days), ...(extensions ? ['-extfile', extensions] : []));
      return read(name);
    };
    this.ca = read('ca');
    this.server = issue('server', '127.0.0.1', 'ca', 2, 'server.ext');
    this.client = issue('client', 'provisioning-client', 'ca', 2);
    this.otherClient = issue('client2', 'provisioning-client-2', 'ca', 2);
    this.rogueClient = issue('rogue', 'rogue-client', 'rogue-ca', 2);
    this.expiredClient = issue('expired', 'expired-client', 'ca', -1);
    openssl('pkcs8', '-topk8', '-in', 'client.key', '-out', 'client-encrypted.key', '-v2', 'aes-256-cbc', '-passout', 'pass:test');
    this.encryptedClientKey = readFileSync(join(dir, 'client-encrypted.key'), 'utf8');
  }

  /** Makes every certificate, then removes the folder (the PEM texts are kept in memory). */
  static make(): ThrowawayCa {
    const dir = mkdtempSync(join(tmpdir(), 'prov-ca-'));
    try {
      return new ThrowawayCa(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * A line of a PEM's base64 body, to search for: it appears wherever the PEM is copied. The
 * second line when there is one: the first starts with the algorithm's fixed identifiers.
 */
export function pemCore(pem: string): string {
  const lines = pem.split('\n').map((entry) => entry.trim()).filter((entry) => entry.length >= 40 && !entry.startsWith('-----'));
  const line = lines[1] ?? lines[0];
  if (!line) throw new Error('no base64 line in the PEM');
  return line;
}
