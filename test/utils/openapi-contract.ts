/**
 * The OpenAPI contract check: every answer the e2e suites receive is validated against the
 * response the document (buildOpenApiDocument in src/app.factory.ts) declares for its method,
 * route and status. Used by test/utils/test-app.ts as a Fastify onSend hook.
 *
 * The document is OpenAPI 3.0, so its schemas are turned into JSON Schema for Ajv:
 * `nullable: true` adds "null" to the schema's own `type` only (the OpenAPI 3.0.3
 * clarification): an `enum` must list null itself, and a `$ref`/`allOf` next to `nullable`
 * does not accept null. Objects that list their `properties` are closed (no undeclared
 * field may appear in an answer) unless they say otherwise with `additionalProperties`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { OpenAPIObject } from '@nestjs/swagger';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type SchemaObject = Record<string, any>;

export interface Violation {
  method: string;
  route: string;
  status: number;
  problem: string;
  body: string;
}

export interface DocumentedOperation {
  method: string;
  /** OpenAPI path, e.g. /api/v1/handlers/{id} */
  path: string;
  operation: SchemaObject;
}

/** Every operation of the document, in document order. */
export function documentOperations(document: OpenAPIObject): DocumentedOperation[] {
  const operations: DocumentedOperation[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = (item as SchemaObject)[method];
      if (operation) operations.push({ method: method.toUpperCase(), path, operation });
    }
  }
  return operations;
}

/** Follows `#/components/...` references of the document. */
export function resolveRef(document: OpenAPIObject, node: SchemaObject | undefined): SchemaObject | undefined {
  let current = node;
  for (let hops = 0; current && typeof current.$ref === 'string' && hops < 20; hops++) {
    const pointer = current.$ref.replace(/^#\//, '').split('/').map((part: string) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
    current = pointer.reduce((value: any, part: string) => value?.[part], document);
  }
  return current;
}

const OPENAPI_ONLY = new Set(['nullable', 'example', 'examples', 'xml', 'externalDocs', 'discriminator', 'deprecated']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf']);
const SCHEMA_ONE = new Set(['items', 'additionalProperties', 'not', 'contains', 'propertyNames', 'if', 'then', 'else']);
const DOCUMENT_ID = 'openapi-document';

/** OpenAPI 3.0 schema object → JSON Schema (draft 7) for Ajv. */
export function toJsonSchema(node: Json | SchemaObject, closeObjects: boolean): any {
  if (Array.isArray(node)) return node.map((item) => toJsonSchema(item, closeObjects));
  if (node === null || typeof node !== 'object') return node;
  const out: SchemaObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (OPENAPI_ONLY.has(key) || key.startsWith('x-')) continue;
    if (key === '$ref' && typeof value === 'string') out.$ref = value.startsWith('#/') ? `${DOCUMENT_ID}${value}` : value;
    else if (SCHEMA_MAPS.has(key) && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, toJsonSchema(schema as Json, closeObjects)]));
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) out[key] = value.map((schema) => toJsonSchema(schema, closeObjects));
    else if (SCHEMA_ONE.has(key) && value && typeof value === 'object') out[key] = toJsonSchema(value as Json, closeObjects);
    else out[key] = value;
  }
  if ((node as SchemaObject).nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  const isObject = out.type === 'object' || (Array.isArray(out.type) && out.type.includes('object'));
  if (closeObjects && isObject && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** A request's route as Fastify knows it (`/a/:id`) → the document's path (`/a/{id}`). */
export function fastifyToOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const excerpt = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);

/** Ajv's errors, one line per (path with array indexes as *, message): items alike are listed once. */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined): string {
  const lines = (errors ?? []).map(
    (e) => `${e.instancePath.replace(/\/\d+(?=\/|$)/g, '/*') || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`,
  );
  return [...new Set(lines)].slice(0, 8).join('; ');
}

/** Routes the service serves that the document deliberately leaves out (not JSON APIs). */
export const UNDOCUMENTED_ROUTES: { prefix: string; why: string }[] = [
  { prefix: '/docs', why: 'Swagger UI and the document itself' },
  { prefix: '/console', why: 'the operator console: static HTML, CSS and JavaScript' },
  { prefix: '/api/v1/bench/', why: 'the benchmark-only empty route (BENCH_EMPTY_ROUTE), excluded from the document' },
];

export class OpenApiContract {
  readonly violations: Violation[] = [];
  /** Answers checked against the document, and answers skipped (by reason). */
  readonly counts = { checked: 0, skipped: new Map<string, number>() };
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly operations = new Map<string, SchemaObject>();

  constructor(readonly document: OpenAPIObject) {
    this.ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
    addFormats(this.ajv);
    // The components become one schema the answers' schemas point into ($ref openapi-document#/components/schemas/X).
    const schemas = Object.fromEntries(
      Object.entries(document.components?.schemas ?? {}).map(([name, schema]) => [name, toJsonSchema(schema as Json, true)]),
    );
    this.ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas } } as any);
    for (const { method, path, operation } of documentOperations(document)) this.operations.set(`${method} ${path}`, operation);
  }

  private skip(reason: string): void {
    this.counts.skipped.set(reason, (this.counts.skipped.get(reason) ?? 0) + 1);
  }

  private validator(key: string, schema: SchemaObject): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(toJsonSchema(schema as Json, true));
      this.validators.set(key, validate);
    }
    return validate;
  }

  /**
   * Checks one answer. `route` is Fastify's route template (undefined when no route matched);
   * `body` the text sent.
   */
  check(method: string, route: string | undefined, status: number, contentType: string | undefined, body: string): void {
    if (method === 'HEAD' || method === 'OPTIONS') return this.skip(`${method} request`);
    const path = route === undefined ? undefined : fastifyToOpenApiPath(route);
    const undocumented = path === undefined ? undefined : UNDOCUMENTED_ROUTES.find((r) => path.startsWith(r.prefix));
    if (undocumented) return this.skip(`${undocumented.prefix}: ${undocumented.why}`);
    const record = (problem: string): void => {
      this.violations.push({ method, route: path ?? '(no route)', status, problem, body: excerpt(body) });
    };
    const operation = path === undefined ? undefined : this.operations.get(`${method} ${path}`);
    let response: SchemaObject | undefined;
    let responseKey: string;
    if (!operation) {
      if (path !== undefined) return record('the route is served but is not in the OpenAPI document (and not in UNDOCUMENTED_ROUTES)');
      // No route matched (404, 405, a malformed URL…): docs/errors.md promises the error body anyway.
      if (status < 400) return record('an answer below 400 without a matching route');
      response = { content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponseDto' } } } };
      responseKey = 'no-route';
    } else {
      const responses = operation.responses ?? {};
      // `default` covers errors only: a success status must be declared as itself.
      responseKey = responses[String(status)] ? String(status) : status >= 400 && responses.default ? 'default' : '';
      if (!responseKey) return record(`status ${status} is not declared (declared: ${Object.keys(responses).join(', ')})`);
      response = resolveRef(this.document, responses[responseKey]);
    }
    this.counts.checked++;
    const content: Record<string, SchemaObject> = response?.content ?? {};
    const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (Object.keys(content).length === 0) {
      if (body.length > 0) record(`response ${responseKey} declares no body, but one was sent (${mediaType || 'no content-type'})`);
      return;
    }
    if (body.length === 0 && status !== 204) return record(`response ${responseKey} declares a body (${Object.keys(content).join(', ')}) but none was sent`);
    const declared = content[mediaType] ?? content['*/*'];
    if (!declared) return record(`media type "${mediaType}" is not declared for ${responseKey} (declared: ${Object.keys(content).join(', ')})`);
    if (!/[/+]json$/.test(mediaType)) return; // text answers (Prometheus metrics): the media type is the contract
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return record(`the body is not JSON although sent as ${mediaType}`);
    }
    if (!declared.schema) return;
    const validate = this.validator(`${method} ${path ?? '(no route)'} ${responseKey} ${mediaType}`, declared.schema);
    if (!validate(parsed)) record(`body does not match the schema of response ${responseKey}: ${formatAjvErrors(validate.errors)}`);
  }

  /**
   * Whether `value` fits `schema` (a schema of the document, e.g. a request body's) under the
   * same reading as the answers: closed objects, OpenAPI 3.0 nullable. Used by the fuzz test to
   * tell a valid input (not sent) from an invalid one (which must be refused).
   */
  matches(schema: SchemaObject, value: unknown): boolean {
    const key = `request ${JSON.stringify(schema)}`;
    return this.validator(key, schema)(value) as boolean;
  }

  /** The violations, alike ones (same route, status and problem) listed once with their count. */
  report(): string {
    const groups = new Map<string, { violation: Violation; count: number }>();
    for (const violation of this.violations) {
      const key = `${violation.method} ${violation.route} ${violation.status} ${violation.problem}`;
      const group = groups.get(key);
      if (group) group.count++;
      else groups.set(key, { violation, count: 1 });
    }
    return [...groups.values()]
      .map(({ violation: v, count }, i) => `${i + 1}. ${v.method} ${v.route} → ${v.status}${count > 1 ? ` (×${count})` : ''}: ${v.problem}\n   body: ${v.body}`)
      .join('\n');
  }
}
