// Audit trail (admin keys): who changed what, when and from where, with filters and "More" paging.
import { api } from './api.js';
import { clear, formatDate, go, h, hashFor, icon, notify, prettyJson, select } from './dom.js';

const LIMIT = 50;
const ACTOR_LABELS = { api_key: 'API key', cli: 'Keys command', system: 'Service' };
/** Fields that change with every edit: left out of the summary of what changed. */
const NOISE = new Set(['updated_at']);

/** The kinds of change and of record, read from the API's own document so that a new kind needs no console change. */
let auditKinds = null;
async function kinds() {
  if (auditKinds) return auditKinds;
  try {
    const document = await api('GET', '/docs-json');
    const parameters = document.paths['/api/v1/audit'].get.parameters;
    const values = (name) => parameters.find((parameter) => parameter.name === name)?.schema?.enum ?? [];
    auditKinds = { actions: values('action'), targets: values('target_type') };
  } catch {
    return { actions: [], targets: [] };
  }
  return auditKinds;
}

/** datetime-local text (browser time) → ISO 8601; `end` takes the last millisecond of that minute. */
function isoFromLocal(text, end = false) {
  if (!text) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return undefined;
  return new Date(date.getTime() + (end && text.length <= 16 ? 59_999 : 0)).toISOString();
}

export async function renderAudit(view, ctx, params, isCurrent) {
  const filters = {
    actor_key_id: params.get('actor_key_id') ?? '',
    action: params.get('action') ?? '',
    target_type: params.get('target_type') ?? '',
    target_id: params.get('target_id') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  // The same filters go with every page: the API refuses a cursor sent with other ones.
  const query = { ...filters, from: isoFromLocal(filters.from), to: isoFromLocal(filters.to, true), limit: LIMIT };
  const [result, keys, known] = await Promise.all([api('GET', '/api/v1/audit', { query }), api('GET', '/api/v1/api-keys').catch(() => []), kinds()]);
  if (!isCurrent()) return;
  const reload = () => renderAudit(view, ctx, params, isCurrent).catch((error) => notify(error.message, 'error'));

  const body = h('tbody', {}, result.items.length ? result.items.map(auditRow) : h('tr', { class: 'empty' }, h('td', { colspan: 7 }, 'No changes match.')));
  const summary = h('p', { class: 'summary', id: 'audit-summary' });
  let shown = result.items.length;
  const describe = (more) => {
    summary.textContent = `${shown} change${shown === 1 ? '' : 's'}${more ? ' shown' : ''}, newest first`;
  };
  describe(result.has_more);

  // "More" appends the next, older page: the cursor stays in this view, never in the address.
  let cursor = result.next_cursor;
  const more = h('button', { type: 'button', class: 'button small', id: 'audit-more', hidden: !cursor }, 'More');
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await api('GET', '/api/v1/audit', { query: { ...query, cursor } });
      if (!isCurrent()) return;
      body.append(...next.items.map(auditRow));
      shown += next.items.length;
      cursor = next.next_cursor;
      more.hidden = !cursor;
      describe(next.has_more);
    } catch (error) {
      notify(error.message, 'error');
    } finally {
      more.disabled = false;
    }
  });

  clear(
    view,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, 'Audit'),
      h('div', { class: 'toolbar-actions' }, h('button', { type: 'button', class: 'button', id: 'audit-refresh', onclick: reload }, icon('refresh'), 'Refresh')),
    ),
    filterForm(filters, keys, known, reload),
    summary,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'grid', id: 'audit-table' },
        h(
          'thead',
          {},
          h('tr', {}, ['ID', 'Date', 'Who', 'From', 'Action', 'Record', 'What changed'].map((label, i) => h('th', { class: i === 0 ? 'num' : undefined }, label))),
        ),
        body,
      ),
    ),
    h('nav', { class: 'pager', 'aria-label': 'Pages', id: 'audit-pager' }, more),
  );
}

function filterForm(filters, keys, known, reload) {
  const key = select(
    { id: 'audit-key', name: 'actor_key_id' },
    'Any key',
    keys.map((k) => ({ value: String(k.id), label: `${k.id} · ${k.name}${k.revoked_at ? ' (revoked)' : ''}` })),
    filters.actor_key_id,
  );
  // A key id from a link may not be in the list (a key made later): keep it selectable.
  if (filters.actor_key_id && key.value !== filters.actor_key_id) {
    key.append(h('option', { value: filters.actor_key_id }, `${filters.actor_key_id}`));
    key.value = filters.actor_key_id;
  }
  const action = select({ id: 'audit-action', name: 'action' }, 'Any action', known.actions.map((value) => ({ value, label: value })), filters.action);
  const targetType = select({ id: 'audit-target-type', name: 'target_type' }, 'Any record', known.targets.map((value) => ({ value, label: value })), filters.target_type);
  const targetId = h('input', { id: 'audit-target-id', name: 'target_id', type: 'number', min: 1, step: 1, value: filters.target_id, placeholder: 'Id' });
  const from = h('input', { id: 'audit-from', name: 'from', type: 'datetime-local', value: filters.from });
  const to = h('input', { id: 'audit-to', name: 'to', type: 'datetime-local', value: filters.to });
  const form = h(
    'form',
    { class: 'filters audit-filters', id: 'audit-filters', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'audit-key' }, 'Key'), key),
    h('div', { class: 'field' }, h('label', { for: 'audit-action' }, 'Action'), action),
    h('div', { class: 'field' }, h('label', { for: 'audit-target-type' }, 'Record'), targetType),
    h('div', { class: 'field' }, h('label', { for: 'audit-target-id' }, 'Record id'), targetId),
    h('div', { class: 'field' }, h('label', { for: 'audit-from' }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: 'audit-to' }, 'To'), to),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'button', class: 'button', id: 'audit-reset', onclick: () => go(hashFor('/audit'), reload) }, 'Reset'),
      h('button', { type: 'submit', class: 'button primary', id: 'audit-search' }, 'Search'),
    ),
  );
  form.addEventListener('submit', (submit) => {
    submit.preventDefault();
    go(
      hashFor('/audit', {
        actor_key_id: key.value,
        action: action.value,
        target_type: targetType.value,
        target_id: targetId.value.trim(),
        from: from.value,
        to: to.value,
      }),
      reload,
    );
  });
  return form;
}

function auditRow(entry) {
  const actor = entry.actor;
  const who =
    actor.type === 'api_key'
      ? h('a', { href: hashFor('/audit', { actor_key_id: actor.key_id }), title: `Changes made with key ${actor.key_id}` }, `${actor.key_id} · ${actor.name}`)
      : h('span', {}, h('span', { class: ['badge', `actor-${actor.type}`] }, ACTOR_LABELS[actor.type] ?? actor.type), ' ', h('span', { class: 'muted' }, actor.name));
  const target =
    entry.target_id === null
      ? h('span', {}, entry.target_type)
      : h(
          'a',
          { href: hashFor('/audit', { target_type: entry.target_type, target_id: entry.target_id }), title: `Every change to ${entry.target_type} ${entry.target_id}` },
          `${entry.target_type} ${entry.target_id}`,
        );
  return h(
    'tr',
    { dataset: { id: entry.id, action: entry.action } },
    h('td', { class: 'num' }, String(entry.id)),
    h('td', { class: 'nowrap', title: entry.at }, formatDate(entry.at)),
    h('td', { class: 'audit-who' }, who),
    h(
      'td',
      { class: 'audit-from' },
      entry.client_address ?? '—',
      entry.request_id ? h('span', { class: 'muted request-id', title: 'Request id (X-Request-Id), as in the service logs' }, entry.request_id) : null,
    ),
    h('td', {}, h('code', {}, entry.action)),
    h('td', { class: 'nowrap' }, target),
    h('td', { class: 'audit-change' }, changeDetails(entry)),
  );
}

const short = (value) => {
  const text = value === undefined ? '—' : JSON.stringify(value);
  return text.length > 48 ? `${text.slice(0, 48)}…` : text;
};

/** The fields whose values differ, "name: "CRM" → "CRM 2"", and the whole records on demand. */
function changeDetails(entry) {
  const { before, after } = entry;
  let lines;
  if (before === null && after === null) lines = ['—'];
  else if (before === null) lines = ['created'];
  else if (after === null) lines = ['removed'];
  else {
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((name) => !NOISE.has(name));
    lines = names.filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name])).map((name) => `${name}: ${short(before[name])} → ${short(after[name])}`);
    if (lines.length === 0) lines = ['no field changed'];
  }
  const summary = h('ul', { class: 'audit-fields' }, lines.map((line) => h('li', {}, line)));
  if (before === null && after === null) return summary;
  return h(
    'div',
    {},
    summary,
    h(
      'details',
      { class: 'audit-records' },
      h('summary', {}, 'Records'),
      h(
        'div',
        { class: 'audit-record-pair' },
        before !== null ? h('div', {}, h('span', { class: 'muted' }, 'Before'), h('pre', { class: 'code-block audit-before' }, prettyJson(JSON.stringify(before)))) : null,
        after !== null ? h('div', {}, h('span', { class: 'muted' }, 'After'), h('pre', { class: 'code-block audit-after' }, prettyJson(JSON.stringify(after)))) : null,
      ),
    ),
  );
}
