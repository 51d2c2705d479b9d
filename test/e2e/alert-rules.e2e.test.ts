import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { forEachDatabase } from '../utils/suite.js';
import { createHandler } from '../factories/handler.factory.js';

const RULES_FILE = 'docs/alerts.rules.yml';

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** PromQL words that are not metric names: aggregations, functions, operators, modifiers. */
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'resets', 'changes', 'absent', 'absent_over_time',
  'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'last_over_time',
  'histogram_quantile', 'clamp', 'clamp_min', 'clamp_max', 'abs', 'ceil', 'floor', 'round', 'vector', 'scalar', 'time',
  'label_replace', 'label_join', 'sort', 'sort_desc', 'by', 'without', 'and', 'or', 'unless', 'on', 'ignoring',
  'group_left', 'group_right', 'bool', 'offset',
]);

/** The selectors of a PromQL expression: each metric name with its label matchers, and names used bare. */
function selectors(expr: string): { metric: string; matchers: { label: string; op: string; value: string }[] }[] {
  const found: { metric: string; matchers: { label: string; op: string; value: string }[] }[] = [];
  const withBraces = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g;
  for (const match of expr.matchAll(withBraces)) {
    const matchers = [...match[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((m) => ({ label: m[1]!, op: m[2]!, value: m[3]! }));
    found.push({ metric: match[1]!, matchers });
  }
  const bare = expr
    .replace(withBraces, ' ')
    .replace(/"[^"]*"/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  for (const word of bare) if (!PROMQL_WORDS.has(word)) found.push({ metric: word, matchers: [] });
  return found;
}

/** The series of a /metrics page: metric name → the label sets it has. */
function seriesOf(page: string): Map<string, Record<string, string>[]> {
  const series = new Map<string, Record<string, string>[]>();
  for (const line of page.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
    const labels = Object.fromEntries([...(/^[^{ ]*\{([^}]*)\}/.exec(line)?.[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    series.set(name, [...(series.get(name) ?? []), labels]);
  }
  return series;
}

const rulesOf = (document: unknown): Rule[] => {
  const groups = (document as { groups?: { name?: string; rules?: Rule[] }[] }).groups;
  assert.ok(Array.isArray(groups) && groups.length > 0, `${RULES_FILE}: no groups`);
  return groups.flatMap((group) => {
    assert.equal(typeof group.name, 'string');
    assert.ok(Array.isArray(group.rules) && group.rules.length > 0, `group ${group.name}: no rules`);
    return group.rules!;
  });
};

forEachDatabase('the sample alerting rules', { only: 'sqlite' }, (t) => {
  let rules: Rule[];
  let series: Map<string, Record<string, string>[]>;

  before(async () => {
    rules = rulesOf(parse(readFileSync(RULES_FILE, 'utf8')));
    // A handler, so that the per-handler series (the circuit gauge) are on the page.
    await createHandler(t, { name: 'alerted' });
    series = seriesOf((await t.http.get('/metrics').set(t.admin).expect(200)).text);
  });

  it('is valid YAML of Prometheus rule groups, each alert with an expression, a severity and a summary', () => {
    const names = rules.map((rule) => rule.alert);
    assert.ok(names.length >= 6, names.join(', '));
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
    for (const rule of rules) {
      assert.match(String(rule.alert), /^[A-Z][A-Za-z]+$/);
      assert.equal(typeof rule.expr, 'string', `${rule.alert}: expr`);
      assert.ok(['warning', 'critical'].includes(String(rule.labels?.severity)), `${rule.alert}: severity`);
      assert.ok((rule.annotations?.summary ?? '').length > 0, `${rule.alert}: summary`);
      if (rule.for !== undefined) assert.match(rule.for, /^\d+[smh]$/, `${rule.alert}: for`);
    }
    // The alerts the service's operators asked for.
    for (const wanted of ['ProvisioningHandlerAutoDisabled', 'ProvisioningCircuitOpenTooLong', 'ProvisioningDeliveriesFailedForGood', 'ProvisioningQueueBehind', 'ProvisioningDatabaseDown', 'ProvisioningOperationalEventsNotEmitted']) {
      assert.ok(names.includes(wanted), `missing ${wanted}`);
    }
  });

  it('uses only metrics, labels and label values that a running service exposes at /metrics', () => {
    assert.ok(series.size > 10, 'a real /metrics page was read');
    for (const rule of rules) {
      const used = selectors(rule.expr!);
      assert.ok(used.some((s) => s.metric.startsWith('provisioning_')), `${rule.alert}: uses no metric of the service`);
      for (const { metric, matchers } of used) {
        const sets = series.get(metric);
        assert.ok(sets, `${rule.alert}: ${metric} is not exposed at /metrics`);
        for (const { label, op, value } of matchers) {
          assert.ok(sets.some((set) => label in set), `${rule.alert}: ${metric} has no label ${label}`);
          if (op === '=') assert.ok(sets.some((set) => set[label] === value), `${rule.alert}: no series ${metric}{${label}="${value}"}`);
          if (op === '=~' && /^[a-z0-9_.|]+$/.test(value)) {
            for (const alternative of value.split('|')) {
              assert.ok(sets.some((set) => set[label] === alternative), `${rule.alert}: no series ${metric}{${label}="${alternative}"}`);
            }
          }
        }
      }
    }
  });

  it('passes promtool check rules, where promtool is installed', (test) => {
    const promtool = process.env.PROMTOOL ?? 'promtool';
    const run = spawnSync(promtool, ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      test.skip(`${promtool} is not installed (set PROMTOOL to its path)`);
      return;
    }
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});
