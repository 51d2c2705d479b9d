// Execution logs: filters, the list (paged by cursor), the detail view with payload and response, manual retry.
import { api } from './api.js';
import { clear, formatDate, go, h, hashFor, icon, notify, prettyJson, select } from './dom.js';

const LIMIT = 50;
/**
 * The list pages by the API's opaque cursor (kept in the address as `cursor`); a cursor says
 * where a page starts, not which page it is. To go back to newer pages the console remembers,
 * for each cursor it followed, the cursor of the page it came from ('' for the newest page).
 */
const newerOf = new Map();
const STATUS_LABELS = { success: 'Success', fail: 'Fail', skipped: 'Skipped' };
/** The error kinds of the API (error_kind), as the filter offers them. */
const ERROR_KINDS = ['timeout', 'connection_refused', 'network', 'dns', 'tls', 'http_4xx', 'http_5xx', 'redirect', 'script_exit', 'policy_refused', 'bad_answer', 'skipped', 'abandoned', 'other'];
const kindLabel = (kind) => kind.replace('_', ' ');
const RETRYABLE = new Set(['failed', 'skipped']);
const UNFINISHED = new Set(['pending', 'in_progress']);

/** datetime-local text (browser time) → ISO 8601; `end` takes the last millisecond of that minute. */
function isoFromLocal(text, end = false) {
  if (!text) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return undefined;
  return new Date(date.getTime() + (end && text.length <= 16 ? 59_999 : 0)).toISOString();
}

export async function renderLogs(view, ctx, params, isCurrent) {
  const filters = {
    handler_id: params.get('handler_id') ?? '',
    event: params.get('event') ?? '',
    object_id: params.get('object_id') ?? '',
    status: params.get('status') ?? '',
    error_kind: params.get('error_kind') ?? '',
    error: params.get('error') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  const cursor = params.get('cursor') ?? '';
  // The same filters go with every page: the API refuses a cursor sent with other ones.
  const query = { ...filters, from: isoFromLocal(filters.from), to: isoFromLocal(filters.to, true), limit: LIMIT };
  const [result, handler] = await Promise.all([
    api('GET', '/api/v1/execution-logs', { query: { ...query, cursor } }).catch((error) => {
      // A cursor from an old link or an edited address: start again from the newest calls.
      if (error.code === 'INVALID_CURSOR' && cursor) return null;
      throw error;
    }),
    filters.handler_id ? api('GET', `/api/v1/handlers/${filters.handler_id}`).catch(() => null) : null,
  ]);
  if (result === null) {
    if (!isCurrent()) return;
    // Replaced in place (no hashchange, which would rebuild the page and its notices).
    window.history.replaceState(null, '', hashFor('/logs', filters));
    notify('That page of the list no longer applies: showing the newest calls', 'error');
    return renderLogs(view, ctx, new URLSearchParams(filters), isCurrent);
  }
  const deliveries = ctx.isAdmin ? await deliveryStates(result.items) : new Map();
  if (!isCurrent()) return;
  const reload = () => renderLogs(view, ctx, params, isCurrent).catch((error) => notify(error.message, 'error'));

  const handlerChip = filters.handler_id
    ? h(
        'span',
        { class: 'chip', id: 'handler-filter' },
        `Handler ${filters.handler_id}${handler ? ` · ${handler.name}` : ''}`,
        h('a', { href: hashFor('/logs', { ...filters, handler_id: '' }), class: 'chip-remove', 'aria-label': 'Show every handler', title: 'Show every handler' }, icon('close')),
      )
    : null;

  const seen = new Set();
  clear(
    view,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, 'Execution Logs'),
      h('div', { class: 'toolbar-actions' }, handlerChip, h('button', { type: 'button', class: 'button', id: 'logs-refresh', onclick: reload }, icon('refresh'), 'Refresh')),
    ),
    filterForm(ctx, filters, reload),
    summary(query, cursor, result),
    result.search_window ? searchWindowNote(result.search_window) : null,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'grid', id: 'logs-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['ID', 'Status', 'Date', 'Event', 'Handler', 'Object ID', 'Response', 'Duration'].map((label, i) =>
              h('th', { class: [0, 5, 7].includes(i) ? 'num' : undefined }, label),
            ),
            h('th', { class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')),
          ),
        ),
        h(
          'tbody',
          {},
          result.items.length
            ? result.items.map((log) => {
                // The retry button sits on the newest row of each failed or skipped delivery.
                const state = log.delivery_id ? deliveries.get(log.delivery_id) : undefined;
                const retry = state && RETRYABLE.has(state.status) && !seen.has(log.delivery_id);
                if (log.delivery_id) seen.add(log.delivery_id);
                return logRow(log, retry ? state : null, reload);
              })
            : h('tr', { class: 'empty' }, h('td', { colspan: 9 }, 'No calls match.')),
        ),
      ),
    ),
    cursorPager(filters, cursor, result),
  );
}

/** "Newest first", and a count only when asked for: counting a large table takes time. */
function summary(query, cursor, result) {
  const shown = cursor || result.has_more ? `${result.items.length} call${result.items.length === 1 ? '' : 's'} on this page` : `${result.items.length} call${result.items.length === 1 ? '' : 's'}`;
  const text = h('span', { id: 'logs-summary-text' }, `${shown}, newest first`);
  const count = h('button', { type: 'button', class: 'button small', id: 'logs-count' }, 'Count all');
  count.addEventListener('click', async () => {
    count.disabled = true;
    try {
      const counted = await api('GET', '/api/v1/execution-logs', { query: { ...query, limit: 1, count: 'true' } });
      const { value, exact } = counted.count;
      count.replaceWith(h('span', { id: 'logs-count-result', title: exact ? undefined : 'The count stopped early; there may be more' }, `${exact ? '' : 'at least '}${value} call${value === 1 ? '' : 's'} match`));
    } catch (error) {
      count.disabled = false;
      notify(error.message, 'error');
    }
  });
  return h('p', { class: 'summary', id: 'logs-summary' }, text, ' · ', count);
}

/** A search examines a bounded number of calls per page: say how far back this page looked. */
function searchWindowNote(window) {
  return h(
    'p',
    { class: 'summary muted', id: 'logs-search-window' },
    `This page searched the calls back to ${formatDate(window.searched_back_to)} (at most ${window.rows.toLocaleString('en')} a page); Older searches on.`,
  );
}

/** Newest / Newer / Older: the API's cursors, newest first. */
function cursorPager(filters, cursor, result) {
  const newer = newerOf.get(cursor);
  if (result.next_cursor) newerOf.set(result.next_cursor, cursor);
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages', id: 'logs-pager' },
    cursor ? h('a', { class: 'button small', href: hashFor('/logs', filters), id: 'logs-newest' }, 'Newest') : null,
    cursor && newer !== undefined ? h('a', { class: 'button small', href: hashFor('/logs', { ...filters, cursor: newer }), rel: 'prev', id: 'logs-newer' }, 'Newer') : null,
    result.next_cursor ? h('a', { class: 'button small', href: hashFor('/logs', { ...filters, cursor: result.next_cursor }), rel: 'next', id: 'logs-older' }, 'Older') : null,
  );
}

function filterForm(ctx, filters, reload) {
  const event = select({ id: 'logs-event', name: 'event' }, 'Any event', ctx.eventOptions({ wildcards: false }), filters.event);
  const status = select(
    { id: 'logs-status', name: 'status' },
    'Any status',
    Object.entries(STATUS_LABELS).map(([value, label]) => ({ value, label })),
    filters.status,
  );
  const objectId = h('input', { id: 'logs-object', name: 'object_id', type: 'text', inputmode: 'numeric', pattern: '[1-9][0-9]*', value: filters.object_id, placeholder: 'Any object', maxlength: 16 });
  const errorKind = select({ id: 'logs-error-kind', name: 'error_kind' }, 'Any kind', ERROR_KINDS.map((value) => ({ value, label: kindLabel(value) })), filters.error_kind);
  const error = h('input', { id: 'logs-error', name: 'error', type: 'search', value: filters.error, placeholder: 'Text in the error', maxlength: 200 });
  const from = h('input', { id: 'logs-from', name: 'from', type: 'datetime-local', value: filters.from });
  const to = h('input', { id: 'logs-to', name: 'to', type: 'datetime-local', value: filters.to });
  const form = h(
    'form',
    { class: ['filters', 'logs-filters'], id: 'logs-filters', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'logs-event' }, 'Event'), event),
    h('div', { class: 'field' }, h('label', { for: 'logs-object' }, 'Object ID'), objectId),
    h('div', { class: 'field' }, h('label', { for: 'logs-status' }, 'Status'), status),
    h('div', { class: 'field' }, h('label', { for: 'logs-error-kind' }, 'Error kind'), errorKind),
    h('div', { class: 'field' }, h('label', { for: 'logs-error' }, 'Error'), error),
    h('div', { class: 'field' }, h('label', { for: 'logs-from' }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: 'logs-to' }, 'To'), to),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'button', class: 'button', id: 'logs-reset', onclick: () => go(hashFor('/logs', { handler_id: filters.handler_id }), reload) }, 'Reset'),
      h('button', { type: 'submit', class: 'button primary', id: 'logs-search' }, 'Search'),
    ),
  );
  form.addEventListener('submit', (submit) => {
    submit.preventDefault();
    go(
      hashFor('/logs', {
        handler_id: filters.handler_id,
        event: event.value,
        object_id: objectId.value.trim(),
        status: status.value,
        error_kind: errorKind.value,
        error: error.value.trim(),
        from: from.value,
        to: to.value,
      }),
      reload,
    );
  });
  return form;
}

/** The current state of the deliveries behind failed or skipped calls, read from their events. */
async function deliveryStates(logs) {
  const eventIds = [...new Set(logs.filter((log) => log.status !== 'success' && log.delivery_id && log.event_id).map((log) => log.event_id))];
  const states = new Map();
  const queue = [...eventIds];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        const event = await api('GET', `/api/v1/events/${id}`);
        for (const delivery of event.deliveries) states.set(delivery.id, delivery);
      } catch {
        // A finished event may have been removed by retention: no retry offered for it.
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
  return states;
}

/** Success / Fail / Skipped as a coloured badge (also used by the handlers' test send). */
export function statusBadge(status) {
  return h('span', { class: ['badge', `log-${status}`] }, STATUS_LABELS[status] ?? status);
}

function responseSummary(log) {
  if (log.response_code === null && log.error) return h('span', { class: 'error-text', title: log.error }, log.error);
  const body = (log.response_data ?? '').replace(/\s+/g, ' ').trim();
  return h(
    'span',
    { class: 'response', title: log.error ?? body },
    log.response_code !== null ? h('span', { class: ['code', log.status === 'success' ? 'ok' : 'bad'] }, String(log.response_code)) : null,
    body ? h('span', { class: 'muted' }, body.length > 60 ? `${body.slice(0, 60)}…` : body) : null,
    log.error && log.response_code !== null ? h('span', { class: 'error-text' }, log.error) : null,
  );
}

function logRow(log, retryState, reload) {
  return h(
    'tr',
    { dataset: { id: log.id, status: log.status } },
    h('td', { class: 'num' }, h('a', { href: `#/logs/${log.id}`, 'aria-label': `Details of call ${log.id}` }, String(log.id))),
    h('td', {}, statusBadge(log.status)),
    h('td', { class: 'nowrap', title: log.date }, formatDate(log.date)),
    h('td', {}, h('code', {}, log.event)),
    h('td', {}, h('a', { href: hashFor('/logs', { handler_id: log.handler_id }), title: `Calls of handler ${log.handler_id}` }, `${log.handler_id} · ${log.handler_name}`)),
    h('td', { class: 'num' }, String(log.object_id)),
    h('td', { class: 'response-col' }, responseSummary(log)),
    h('td', { class: 'num nowrap' }, `${log.duration_ms} ms`),
    h(
      'td',
      { class: 'actions-col' },
      h('a', { class: 'icon-button', href: `#/logs/${log.id}`, title: 'Details', 'aria-label': `Details of call ${log.id}`, dataset: { action: 'details' } }, icon('details')),
      retryState ? retryButton(retryState, reload, 'icon') : null,
    ),
  );
}

/** Queues one more attempt of a failed or skipped delivery. */
function retryButton(delivery, reload, style) {
  const label = `Retry delivery ${delivery.id}`;
  const button =
    style === 'icon'
      ? h('button', { type: 'button', class: 'icon-button retry', title: label, 'aria-label': label, dataset: { action: 'retry' } }, icon('retry'))
      : h('button', { type: 'button', class: 'button primary retry', id: 'retry-delivery', dataset: { action: 'retry' } }, icon('retry'), 'Retry delivery');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('POST', `/api/v1/deliveries/${delivery.id}/retry`);
      notify(`Delivery ${delivery.id} queued for one more attempt`);
      await reload();
    } catch (error) {
      button.disabled = false;
      notify(error.message, 'error');
    }
  });
  return button;
}

/**
 * Every call of the delivery this log row belongs to, oldest first: a retried call links to the
 * attempt that followed it. Read from the logs of the event and handler (one short page).
 */
async function attemptsOf(log) {
  if (!log.delivery_id || !log.event_id) return [];
  const page = await api('GET', '/api/v1/execution-logs', { query: { event_id: log.event_id, handler_id: log.handler_id, limit: 100 } }).catch(() => null);
  return (page?.items ?? []).filter((row) => row.delivery_id === log.delivery_id).sort((a, b) => a.id - b.id);
}

function attemptLinks(log, attempts) {
  const links = [];
  for (const row of attempts) {
    if (links.length) links.push(' · ');
    const label = `${row.attempt} ${row.status}`;
    links.push(row.id === log.id ? h('a', { href: `#/logs/${row.id}`, 'aria-current': 'page' }, label) : h('a', { href: `#/logs/${row.id}`, dataset: { attempt: row.attempt } }, label));
  }
  return h('span', { class: 'attempts', id: 'log-attempts' }, links);
}

export async function renderLogDetail(view, ctx, id, isCurrent) {
  const log = await api('GET', `/api/v1/execution-logs/${id}`);
  const [event, attempts] = await Promise.all([log.event_id ? api('GET', `/api/v1/events/${log.event_id}`).catch(() => null) : null, attemptsOf(log)]);
  if (!isCurrent()) return;
  const delivery = event?.deliveries.find((d) => d.id === log.delivery_id) ?? null;
  const reload = () => renderLogDetail(view, ctx, id, isCurrent).catch((error) => notify(error.message, 'error'));

  const facts = [
    ['Status', statusBadge(log.status)],
    ['Date', h('span', { title: log.date }, formatDate(log.date))],
    ['Event', h('span', {}, h('code', {}, log.event), log.event_id ? ` (event ${log.event_id})` : '')],
    ['Handler', h('a', { href: hashFor('/logs', { handler_id: log.handler_id }) }, `${log.handler_id} · ${log.handler_name}`)],
    ['Object ID', String(log.object_id)],
    ['Stage', log.stage],
    ['Attempt', `${log.attempt} (${log.trigger})`],
    ['Duration', `${log.duration_ms} ms`],
    ['Response code', log.response_code === null ? '—' : String(log.response_code)],
    ['Error', log.error ? h('span', { class: 'error-text' }, log.error, log.error_kind ? h('span', { class: 'muted' }, ` (${kindLabel(log.error_kind)})`) : null) : '—'],
  ];
  if (delivery) {
    const next = delivery.next_attempt_at && UNFINISHED.has(delivery.status) ? `, next attempt ${formatDate(delivery.next_attempt_at)}` : '';
    facts.push(['Delivery', h('span', { id: 'delivery-state' }, `${delivery.id}: ${delivery.status.replace('_', ' ')}, ${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}${next}`)]);
  }
  const later = attempts.find((row) => row.id > log.id);
  if (attempts.length > 1) facts.push(['Attempts', attemptLinks(log, attempts)]);
  if (later) facts.push(['Next attempt', h('a', { href: `#/logs/${later.id}`, id: 'next-attempt' }, `Execution log ${later.id}: attempt ${later.attempt}, ${later.status}`)]);

  clear(
    view,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, h('a', { href: '#/logs', class: 'icon-button back', 'aria-label': 'Back to the execution logs', title: 'Back' }, icon('back')), `Execution log ${log.id}`),
      h(
        'div',
        { class: 'toolbar-actions' },
        delivery && ctx.isAdmin && RETRYABLE.has(delivery.status) ? retryButton(delivery, reload, 'button') : null,
        h('button', { type: 'button', class: 'button', onclick: reload }, icon('refresh'), 'Refresh'),
      ),
    ),
    h('dl', { class: 'facts', id: 'log-facts' }, facts.map(([term, detail]) => [h('dt', {}, term), h('dd', {}, detail)])),
    h(
      'div',
      { class: 'panels' },
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Payload sent'),
        log.request_payload === null
          ? h('p', { class: 'muted', id: 'log-payload' }, 'No longer available: the event was removed by retention before this call was.')
          : h('pre', { class: 'code-block', id: 'log-payload' }, prettyJson(log.request_payload)),
      ),
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Response'),
        log.response_data
          ? h('pre', { class: 'code-block', id: 'log-response' }, prettyJson(log.response_data))
          : h('p', { class: 'muted', id: 'log-response' }, log.error ? 'No answer body.' : 'Empty answer.'),
      ),
    ),
  );
}
