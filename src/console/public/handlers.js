// Handlers: the list with quick toggle, advanced search, the new/edit form, delete, and per
// handler the signing secret (reveal, rotate) and a test send.
import { api, ApiError } from './api.js';
import { clear, clearFieldErrors, formatDate, go, h, hashFor, icon, notify, openDialog, pager, select, showFieldErrors } from './dom.js';
import { statusBadge } from './logs.js';

const PER_PAGE = 50;
const STATUS_LABELS = { enabled: 'Enabled', disabled: 'Disabled', archived: 'Archived' };
const TYPE_LABELS = { http: 'HTTP', https: 'HTTPS', script: 'Script' };
const MASK = '********';

export async function renderHandlers(view, ctx, params, isCurrent) {
  const filters = { event: params.get('event') ?? '', type: params.get('type') ?? '', status: params.get('status') ?? '' };
  const page = Math.max(1, Number(params.get('page')) || 1);
  const result = await api('GET', '/api/v1/handlers', { query: { ...filters, page, per_page: PER_PAGE } });
  if (!isCurrent()) return;
  const reload = () => renderHandlers(view, ctx, params, isCurrent).catch((error) => notify(error.message, 'error'));

  const search = searchPanel(ctx, filters, reload);
  const searchButton = h(
    'button',
    { type: 'button', class: 'button', id: 'advanced-search', 'aria-expanded': 'false', 'aria-controls': 'search-panel' },
    'Advanced search',
    icon('chevron', 'accent'),
  );
  searchButton.addEventListener('click', () => {
    search.hidden = !search.hidden;
    searchButton.setAttribute('aria-expanded', String(!search.hidden));
    if (!search.hidden) search.querySelector('select')?.focus();
  });
  const newButton = ctx.canCreate
    ? h('button', { type: 'button', class: 'button primary', id: 'new-handler', onclick: () => editHandler(ctx, null, reload) }, icon('plus'), 'New handler')
    : null;

  clear(
    view,
    h('div', { class: 'toolbar' }, h('h1', {}, 'Handlers'), h('div', { class: 'toolbar-actions' }, newButton, h('div', { class: 'dropdown' }, searchButton, search))),
    h('p', { class: 'summary', id: 'handlers-summary' }, summary(result.total, filters)),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'grid', id: 'handlers-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { class: 'status-col' }, h('span', { class: 'sr-only' }, 'Status')),
            h('th', { class: 'num' }, 'ID'),
            h('th', { class: 'num' }, 'Priority'),
            h('th', {}, 'Name'),
            h('th', {}, 'Event'),
            h('th', {}, 'Handler'),
            h('th', { class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')),
          ),
        ),
        h(
          'tbody',
          {},
          result.items.length
            ? result.items.map((handler) => handlerRow(ctx, handler, reload))
            : h('tr', { class: 'empty' }, h('td', { colspan: 7 }, 'No handlers match.')),
        ),
      ),
    ),
    pager(result, (n) => hashFor('/handlers', { ...filters, page: n })),
  );
}

function summary(total, filters) {
  const parts = [`${total} handler${total === 1 ? '' : 's'}`];
  parts.push(filters.status ? `status ${filters.status}` : 'enabled and disabled');
  if (filters.event) parts.push(`event ${filters.event}`);
  if (filters.type) parts.push(`type ${TYPE_LABELS[filters.type] ?? filters.type}`);
  return parts.join(' · ');
}

function searchPanel(ctx, filters, reload) {
  const event = select({ id: 'search-event', name: 'event' }, 'Any event', ctx.eventOptions({ wildcards: true }), filters.event);
  const type = select(
    { id: 'search-type', name: 'type' },
    'Any type',
    Object.entries(TYPE_LABELS).map(([value, label]) => ({ value, label })),
    filters.type,
  );
  const status = select(
    { id: 'search-status', name: 'status' },
    'Enabled and disabled',
    Object.entries(STATUS_LABELS).map(([value, label]) => ({ value, label })),
    filters.status,
  );
  const form = h(
    'form',
    { class: 'search-panel', id: 'search-panel', hidden: true, novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'search-event' }, 'Event'), event),
    h('div', { class: 'field' }, h('label', { for: 'search-type' }, 'Handler type'), type),
    h('div', { class: 'field' }, h('label', { for: 'search-status' }, 'Status'), status),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'button', class: 'button', id: 'search-reset', onclick: () => go(hashFor('/handlers'), reload) }, 'Reset'),
      h('button', { type: 'submit', class: 'button primary', id: 'search-submit' }, 'Search'),
    ),
  );
  form.addEventListener('submit', (submit) => {
    submit.preventDefault();
    go(hashFor('/handlers', { event: event.value, type: type.value, status: status.value }), reload);
  });
  return form;
}

function handlerRow(ctx, handler, reload) {
  const manage = ctx.canManage(handler.type);
  return h(
    'tr',
    { dataset: { id: handler.id, status: handler.status }, class: `row-${handler.status}` },
    h('td', { class: 'status-col' }, statusControl(handler, manage, reload)),
    h('td', { class: 'num' }, String(handler.id)),
    h('td', { class: 'num' }, String(handler.priority)),
    h(
      'td',
      { class: 'name-col' },
      h('span', { class: 'handler-name' }, handler.name),
      handler.disabled_reason ? h('div', { class: 'muted warn' }, handler.disabled_reason) : null,
      flowLine(handler),
    ),
    h('td', {}, h('code', {}, handler.event), h('div', { class: 'muted' }, ctx.describeEvent(handler.event))),
    h(
      'td',
      { class: 'target-col' },
      h('span', { class: ['badge', `type-${handler.type}`] }, TYPE_LABELS[handler.type] ?? handler.type),
      ' ',
      handler.stage === 'before' ? [h('span', { class: 'badge stage-before', title: 'Decision handler, runs before the action' }, 'before'), ' '] : null,
      handler.filter ? [h('span', { class: 'badge filtered', title: `Payload filter: ${JSON.stringify(handler.filter)}`, dataset: { filter: '' } }, 'filter'), ' '] : null,
      h('code', { class: 'task', title: handler.target_url ?? handler.task }, handler.task),
    ),
    h(
      'td',
      { class: 'actions-col' },
      ctx.canRead
        ? h('a', { class: 'icon-button', href: hashFor('/logs', { handler_id: handler.id }), title: 'Execution logs', 'aria-label': `Execution logs of handler ${handler.id}`, dataset: { action: 'logs' } }, icon('logs'))
        : null,
      manage ? testSendButton(handler) : null,
      manage && handler.stage === 'after'
        ? h(
            'button',
            {
              type: 'button',
              class: 'icon-button',
              title: handler.paused ? 'Paused: resume or change' : 'Pause and maintenance windows',
              'aria-label': `Pause and maintenance windows of handler ${handler.id}`,
              dataset: { action: 'pause' },
              onclick: () => openPause(handler, reload),
            },
            icon('pause', handler.paused ? 'status-archived' : ''),
          )
        : null,
      manage
        ? h('button', { type: 'button', class: 'icon-button', title: 'Signing secret', 'aria-label': `Signing secret of handler ${handler.id}`, dataset: { action: 'secret' }, onclick: () => openSecret(handler) }, icon('key'))
        : null,
      manage
        ? h('button', { type: 'button', class: 'icon-button', title: 'Edit', 'aria-label': `Edit handler ${handler.id}`, dataset: { action: 'edit' }, onclick: () => openEdit(ctx, handler.id, reload) }, icon('edit'))
        : null,
      manage
        ? h('button', { type: 'button', class: 'icon-button danger', title: 'Delete', 'aria-label': `Delete handler ${handler.id}`, dataset: { action: 'delete' }, onclick: () => confirmDelete(handler, reload) }, icon('delete'))
        : null,
    ),
  );
}

/**
 * Under the name: paused (deliveries held, none skipped, unlike disabled), the circuit when it is
 * not closed (deliveries wait for the cool-down), and the handler's own cap and rate limit.
 */
function flowLine(handler) {
  const parts = [];
  if (handler.paused) {
    const { since, until, reason, kind } = handler.paused;
    parts.push(
      h('span', { class: 'badge flow-paused', title: `Since ${formatDate(since)}: deliveries are held, none skipped` }, kind === 'window' ? 'maintenance' : 'paused'),
      ` ${until ? `until ${formatDate(until)}` : 'until resumed'}${reason ? ` · ${reason}` : ''}`,
    );
  }
  const circuit = handler.circuit;
  if (circuit && circuit.state !== 'closed') {
    if (parts.length) parts.push(' · ');
    const label = circuit.state === 'open' ? 'circuit open' : 'circuit half-open';
    parts.push(
      h('span', { class: ['badge', `circuit-${circuit.state}`], title: circuit.reason ?? '' }, label),
      circuit.state === 'open' && circuit.retry_at ? ` probe at ${formatDate(circuit.retry_at)}` : ' probe call out',
    );
  }
  const limits = [];
  if (handler.max_concurrency !== null && handler.max_concurrency !== undefined) limits.push(`≤ ${handler.max_concurrency} at once`);
  if (handler.rate_limit !== null && handler.rate_limit !== undefined) limits.push(`${handler.rate_limit}/${handler.rate_period === 'minute' ? 'min' : 's'}`);
  if (limits.length) {
    if (parts.length) parts.push(' · ');
    parts.push(limits.join(', '));
  }
  return parts.length ? h('div', { class: 'muted flow-line', dataset: { flow: handler.id } }, parts) : null;
}

/** A datetime-local field's value as an instant (the browser's time), or undefined when blank. */
function instant(text) {
  return text ? new Date(text).toISOString() : undefined;
}

/**
 * Pause and maintenance windows of one handler: pause now (until a time or until resumed) or
 * resume; schedule windows and delete them. While paused, deliveries are held, not skipped.
 */
function openPause(handler, reload) {
  let changed = false;
  return openDialog({
    title: `Pause handler ${handler.id}`,
    className: 'pause-dialog',
    body: () => {
      const state = h('p', { id: 'pause-state' });
      const error = h('p', { class: 'field-error', id: 'pause-error', role: 'alert' });
      const until = h('input', { type: 'datetime-local', id: 'pause-until' });
      const reason = h('input', { type: 'text', id: 'pause-reason', maxlength: 500, placeholder: 'optional' });
      const pause = h('button', { type: 'button', class: 'button primary', id: 'pause-now' }, 'Pause');
      const resume = h('button', { type: 'button', class: 'button', id: 'resume-now' }, 'Resume');
      const windows = h('ul', { class: 'windows-list', id: 'windows-list' });
      const from = h('input', { type: 'datetime-local', id: 'window-from' });
      const to = h('input', { type: 'datetime-local', id: 'window-to' });
      const windowReason = h('input', { type: 'text', id: 'window-reason', maxlength: 500, placeholder: 'optional' });
      const add = h('button', { type: 'button', class: 'button small', id: 'add-window' }, icon('plus'), 'Add window');

      const show = (current) => {
        handler = current;
        const paused = current.paused;
        state.textContent = paused
          ? `Paused since ${formatDate(paused.since)}, ${paused.until ? `until ${formatDate(paused.until)}` : 'until resumed'}${paused.reason ? ` (${paused.reason})` : ''}. Its deliveries are held and go out in their order when it ends.`
          : `Not paused (status ${current.status}). A pause holds the deliveries; disabling skips them.`;
        resume.hidden = !paused;
        windows.replaceChildren(
          ...(current.maintenance_windows.length
            ? current.maintenance_windows.map((w) => {
                const remove = h('button', { type: 'button', class: 'icon-button danger', title: 'Delete', 'aria-label': `Delete window ${w.id}` }, icon('delete'));
                remove.addEventListener('click', () => act(async () => {
                  await api('DELETE', `/api/v1/handlers/${current.id}/maintenance-windows/${w.id}`);
                  return api('GET', `/api/v1/handlers/${current.id}`);
                }));
                return h('li', { dataset: { window: w.id } }, h('span', {}, `${formatDate(w.from)} – ${formatDate(w.to)}${w.reason ? ` · ${w.reason}` : ''}`), remove);
              })
            : [h('li', { class: 'muted' }, 'No maintenance window scheduled.')]),
        );
      };
      const act = async (work) => {
        error.textContent = '';
        try {
          show(await work());
          changed = true;
        } catch (problem) {
          error.textContent = problem.message;
        }
      };
      pause.addEventListener('click', () =>
        act(() => api('POST', `/api/v1/handlers/${handler.id}/pause`, { body: { until: instant(until.value), reason: reason.value || undefined } })),
      );
      resume.addEventListener('click', () => act(() => api('POST', `/api/v1/handlers/${handler.id}/resume`)));
      add.addEventListener('click', () =>
        act(async () => {
          await api('POST', `/api/v1/handlers/${handler.id}/maintenance-windows`, { body: { from: instant(from.value), to: instant(to.value), reason: windowReason.value || undefined } });
          return api('GET', `/api/v1/handlers/${handler.id}`);
        }),
      );
      show(handler);
      const labelled = (label, element) => h('div', { class: 'field' }, h('label', { for: element.id }, label), element);
      return h(
        'div',
        {},
        state,
        h('div', { class: 'pause-grid' }, labelled('Until (blank: until resumed)', until), labelled('Reason', reason)),
        h('div', { class: 'form-actions' }, resume, pause),
        h('h3', {}, 'Maintenance windows'),
        windows,
        h('div', { class: 'pause-grid' }, labelled('From', from), labelled('To', to), labelled('Reason', windowReason)),
        h('div', { class: 'form-actions' }, add),
        error,
      );
    },
    actions: [{ label: 'Close', value: 'close', class: 'primary' }],
  }).then(() => (changed ? reload() : undefined));
}

/** The status icon: a one-click toggle for enabled/disabled handlers the key may manage. */
function statusControl(handler, manage, reload) {
  const label = STATUS_LABELS[handler.status] ?? handler.status;
  const glyph = icon(handler.status, `status-${handler.status}`);
  if (!manage || handler.status === 'archived') {
    const title = handler.status === 'archived' ? 'Archived (change it in the edit form)' : label;
    return h('span', { class: 'status-icon', role: 'img', title, 'aria-label': label, dataset: { status: handler.status } }, glyph);
  }
  const next = handler.status === 'enabled' ? 'disable' : 'enable';
  const button = h(
    'button',
    { type: 'button', class: 'status-icon status-toggle', title: `${label}: click to ${next}`, 'aria-label': `${label}: click to ${next}`, dataset: { status: handler.status } },
    glyph,
  );
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const updated = await api('POST', `/api/v1/handlers/${handler.id}/toggle`);
      notify(`Handler ${handler.id} is now ${updated.status}`);
      await reload();
    } catch (error) {
      button.disabled = false;
      notify(error.message, 'error');
    }
  });
  return button;
}

async function confirmDelete(handler, reload) {
  const choice = await openDialog({
    title: `Delete handler ${handler.id}?`,
    className: 'confirm',
    body: h('p', {}, `“${handler.name}” (${handler.event}) will be removed. Its execution logs stay readable.`),
    actions: [
      { label: 'Cancel', value: 'cancel', class: 'cancel' },
      { label: 'Delete', value: 'delete', class: 'danger confirm-delete' },
    ],
  });
  if (choice !== 'delete') return;
  try {
    await api('DELETE', `/api/v1/handlers/${handler.id}`);
    notify(`Handler ${handler.id} deleted`);
    await reload();
  } catch (error) {
    notify(error.message, 'error');
  }
}

async function openEdit(ctx, id, reload) {
  try {
    editHandler(ctx, await api('GET', `/api/v1/handlers/${id}`), reload);
  } catch (error) {
    notify(error.message, 'error');
  }
}

/** The new/edit form in a dialog. `handler` null creates. */
async function editHandler(ctx, handler, reload) {
  const creating = handler === null;
  const saved = await openDialog({
    title: creating ? 'New handler' : `Edit handler ${handler.id}`,
    className: 'handler-dialog',
    body: (close) => handlerForm(ctx, handler, close),
  });
  if (!saved) return;
  if (creating) {
    await showCreatedSecret(saved);
    notify(`Handler ${saved.id} created`);
  } else {
    notify(`Handler ${saved.id} saved`);
  }
  await reload();
}

function handlerForm(ctx, handler, close) {
  const creating = handler === null;
  const value = (name, fallback = '') => (handler && handler[name] !== null && handler[name] !== undefined ? String(handler[name]) : fallback);
  const controls = {};
  const control = (name, element) => {
    element.id = `f-${name}`;
    element.name = name;
    element.setAttribute('aria-describedby', `f-${name}-error`);
    controls[name] = element;
    return element;
  };
  const field = (name, label, element, help, extraClass) =>
    h(
      'div',
      { class: ['field', extraClass], dataset: { field: name } },
      h('label', { for: `f-${name}` }, label),
      element,
      h('p', { class: 'field-error', id: `f-${name}-error`, dataset: { errorFor: name } }),
      help ? h('p', { class: 'help' }, help) : null,
    );

  const types = Object.entries(TYPE_LABELS)
    .filter(([type]) => type !== 'script' || ctx.isInternal || handler?.type === 'script')
    .map(([type, label]) => ({ value: type, label }));
  control('name', h('input', { type: 'text', value: value('name'), maxlength: 200, autocomplete: 'off' }));
  control('event', select({}, 'Choose an event…', ctx.eventOptions({ wildcards: true }), value('event')));
  control('type', select({}, null, types, value('type', ctx.isAdmin ? 'http' : 'script')));
  control('task', h('input', { type: 'text', value: value('task'), maxlength: 2048, autocomplete: 'off', spellcheck: 'false' }));
  control('status', select({}, null, Object.entries(STATUS_LABELS).map(([v, label]) => ({ value: v, label })), value('status', 'enabled')));
  control('priority', h('input', { type: 'number', step: 1, value: value('priority', '10') }));
  control('stage', select({}, null, [{ value: 'after', label: 'after (notify)' }, { value: 'before', label: 'before (decide)' }], value('stage', 'after')));
  control('on_failure', select({}, null, [{ value: 'forbid', label: 'forbid' }, { value: 'allow', label: 'allow' }], value('on_failure', 'forbid')));
  control('timeout_ms', h('input', { type: 'number', step: 1, value: value('timeout_ms', '15000') }));
  control('retry_limit', h('input', { type: 'number', step: 1, value: value('retry_limit', '7') }));
  control('max_concurrency', h('input', { type: 'number', step: 1, min: 1, value: value('max_concurrency'), placeholder: 'default' }));
  control('rate_limit', h('input', { type: 'number', step: 1, min: 1, value: value('rate_limit'), placeholder: 'no limit' }));
  control('rate_period', select({}, null, [{ value: 'second', label: 'per second' }, { value: 'minute', label: 'per minute' }], value('rate_period', 'second')));
  control(
    'filter',
    h('textarea', {
      rows: 3,
      spellcheck: 'false',
      placeholder: '{"data.companies_id": 3}',
      value: handler?.filter ? JSON.stringify(handler.filter, null, 1) : '',
    }),
  );

  const eventHelp = h('p', { class: 'help', id: 'event-description' }, ctx.describeEvent(controls.event.value));
  controls.event.addEventListener('change', () => (eventHelp.textContent = ctx.describeEvent(controls.event.value)));
  const taskHelp = h('p', { class: 'help' });
  const onFailureField = field('on_failure', 'On failure', controls.on_failure, 'When it fails or times out');
  const syncType = () => {
    taskHelp.textContent =
      controls.type.value === 'script'
        ? 'A path inside the scripts folder'
        : `host[:port]/path or a full ${controls.type.value}:// URL`;
    controls.task.placeholder = controls.type.value === 'script' ? 'notify/crm.sh' : '127.0.0.1:5000/api';
  };
  const syncStage = () => (onFailureField.hidden = controls.stage.value !== 'before');
  controls.type.addEventListener('change', syncType);
  controls.stage.addEventListener('change', syncStage);
  syncType();
  syncStage();

  const headers = headersEditor(handler?.headers ?? {});
  const credentials = credentialsEditor(handler, controls.type);
  const banner = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const saveButton = h('button', { type: 'submit', class: 'button primary', id: 'handler-save' }, creating ? 'Create' : 'Save');
  const eventField = field('event', 'Event', controls.event, null, 'half');
  eventField.append(eventHelp);
  const taskField = field('task', 'Task', controls.task, null, 'three');
  taskField.append(taskHelp);

  const form = h(
    'form',
    { class: 'handler-form', id: 'handler-form', novalidate: true },
    banner,
    h(
      'div',
      { class: 'form-grid' },
      field('name', 'Name', controls.name, null, 'half'),
      eventField,
      field('type', 'Type', controls.type),
      taskField,
      field('status', 'Status', controls.status),
      field('priority', 'Priority', controls.priority, '1 runs first'),
      field('stage', 'Stage', controls.stage),
      onFailureField,
      field('timeout_ms', 'Timeout (ms)', controls.timeout_ms, '100 to 300000'),
      field('retry_limit', 'Retry limit', controls.retry_limit, 'Retries after the first attempt'),
      field('max_concurrency', 'Max concurrency', controls.max_concurrency, 'Calls at once per worker; blank: the default'),
      field('rate_limit', 'Rate limit', controls.rate_limit, 'Calls across all workers; blank: none'),
      field('rate_period', 'Rate period', controls.rate_period),
      h(
        'div',
        { class: 'field wide', dataset: { field: 'headers' } },
        h('span', { class: 'label' }, 'Custom headers'),
        headers.element,
        h('p', { class: 'field-error', id: 'f-headers-error', dataset: { errorFor: 'headers' } }),
        h('p', { class: 'help' }, `Credential values are shown as ${MASK}; leave them so to keep the stored value.`),
      ),
      field(
        'filter',
        'Payload filter',
        controls.filter,
        'Optional. A MongoDB-style query on the envelope sent (data.… or event.…), e.g. {"data.balance": {"$lt": 0}}; empty: every event.',
        'wide',
      ),
      credentials.element,
    ),
    h('div', { class: 'form-actions sticky' }, h('button', { type: 'button', class: 'button', onclick: () => close(null) }, 'Cancel'), saveButton),
  );

  form.addEventListener('submit', async (submit) => {
    submit.preventDefault();
    clearFieldErrors(form);
    const body = {
      name: controls.name.value,
      event: controls.event.value,
      type: controls.type.value,
      task: controls.task.value.trim(),
      status: controls.status.value,
      stage: controls.stage.value,
      priority: number(controls.priority.value),
      timeout_ms: number(controls.timeout_ms.value),
      retry_limit: number(controls.retry_limit.value),
      headers: headers.value(),
      // Blank clears the setting: the default cap, no rate limit.
      max_concurrency: number(controls.max_concurrency.value) ?? null,
      rate_limit: number(controls.rate_limit.value) ?? null,
      rate_period: controls.rate_period.value,
    };
    if (body.stage === 'before') body.on_failure = controls.on_failure.value;
    Object.assign(body, credentials.value());
    for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
    const filterText = controls.filter.value.trim();
    try {
      body.filter = filterText === '' ? null : JSON.parse(filterText);
    } catch {
      showFieldErrors(form, { message: 'The payload filter is not JSON', details: [{ field: 'filter', message: 'is not valid JSON' }] });
      return;
    }
    saveButton.disabled = true;
    try {
      const saved = creating ? await api('POST', '/api/v1/handlers', { body }) : await api('PATCH', `/api/v1/handlers/${handler.id}`, { body });
      close(saved);
    } catch (error) {
      saveButton.disabled = false;
      if (error instanceof ApiError) showFieldErrors(form, error);
      else throw error;
    }
  });
  queueMicrotask(() => controls.name.focus());
  return form;
}

/** A number input's value: a number, undefined when blank, or the raw text for the API to refuse. */
function number(text) {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const parsed = Number(trimmed);
  return Number.isFinite(parsed) ? parsed : trimmed;
}

function headersEditor(initial) {
  const rows = h('div', { class: 'header-rows', id: 'header-rows' });
  const addRow = (name = '', val = '') => {
    const row = h(
      'div',
      { class: 'header-row' },
      h('input', { type: 'text', class: 'header-name', placeholder: 'Header name', 'aria-label': 'Header name', value: name, autocomplete: 'off' }),
      h('input', { type: 'text', class: 'header-value', placeholder: 'Value', 'aria-label': 'Header value', value: val, autocomplete: 'off' }),
    );
    row.append(h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Remove header', title: 'Remove', onclick: () => row.remove() }, icon('close')));
    rows.append(row);
    return row;
  };
  for (const [name, val] of Object.entries(initial)) addRow(name, val);
  const add = h('button', { type: 'button', class: 'button small', id: 'add-header', onclick: () => addRow().querySelector('input').focus() }, icon('plus'), 'Add header');
  return {
    element: h('div', { class: 'headers-editor' }, rows, add),
    value() {
      const result = {};
      for (const row of rows.querySelectorAll('.header-row')) {
        const name = row.querySelector('.header-name').value.trim();
        const val = row.querySelector('.header-value').value;
        if (name === '' && val === '') continue;
        result[name] = val;
      }
      return result;
    },
  };
}

const AUTH_LABELS = { '': 'None', basic: 'HTTP basic', bearer: 'Bearer token', oauth2: 'OAuth2 client credentials' };
/** Per kind: its public fields and its secret, as the API names them. */
const AUTH_FIELDS = {
  basic: { fields: [['username', 'Username']], secret: ['password', 'Password'] },
  bearer: { fields: [], secret: ['token', 'Token'] },
  oauth2: {
    fields: [['token_url', 'Token URL'], ['client_id', 'Client ID'], ['scope', 'Scope (optional)'], ['audience', 'Audience (optional)']],
    secret: ['client_secret', 'Client secret'],
  },
};

/**
 * Target authentication: the kind with its fields, and an mTLS client certificate. Secrets are
 * write-only: the API never sends them back, so their inputs start empty and say "set" when one
 * is stored; left empty on an edit, the stored one is kept. `auth` is sent only when touched,
 * `client_certificate` only when a certificate is pasted or removed.
 */
function credentialsEditor(handler, typeControl) {
  const current = handler?.auth ?? null;
  const certificate = handler?.client_certificate ?? null;
  let touched = false;
  const kind = select({ id: 'f-auth-type', 'aria-describedby': 'f-auth-error' }, null, Object.entries(AUTH_LABELS).map(([value, label]) => ({ value, label })), current?.type ?? '');
  const inputs = {};
  const secretSet = (name) => current !== null && AUTH_FIELDS[current.type]?.secret[0] === name && current.has_secret;
  const kindFields = {};
  for (const [type, { fields, secret }] of Object.entries(AUTH_FIELDS)) {
    const rows = fields.map(([name, label]) => {
      const input = h('input', { type: 'text', id: `f-auth-${type}-${name}`, value: current?.type === type ? (current[name] ?? '') : '', autocomplete: 'off', spellcheck: 'false' });
      inputs[`${type}.${name}`] = input;
      return h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
    });
    const [secretName, secretLabel] = secret;
    const secretInput = h('input', {
      type: 'password',
      id: `f-auth-${type}-${secretName}`,
      autocomplete: 'new-password',
      placeholder: current?.type === type && secretSet(secretName) ? 'set (leave empty to keep)' : '',
    });
    inputs[`${type}.${secretName}`] = secretInput;
    rows.push(h('div', { class: 'field' }, h('label', { for: secretInput.id }, secretLabel), secretInput));
    kindFields[type] = h('div', { class: 'auth-fields', dataset: { authType: type } }, ...rows);
  }
  const syncKind = () => {
    for (const [type, element] of Object.entries(kindFields)) element.hidden = kind.value !== type;
  };
  kind.addEventListener('change', syncKind);
  syncKind();

  const pem = (id, placeholder) => h('textarea', { id, rows: 3, placeholder, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'f-client_certificate-error' });
  const cert = pem('f-cert', '-----BEGIN CERTIFICATE-----');
  const key = pem('f-cert-key', certificate?.has_key ? 'set (leave empty to keep)' : '-----BEGIN PRIVATE KEY-----');
  const ca = pem('f-cert-ca', 'CA certificates to trust for the target (optional)');
  const remove = h('input', { type: 'checkbox', id: 'f-cert-remove' });
  const stored = certificate
    ? h(
        'p',
        { class: 'help', id: 'cert-current' },
        `Stored: ${certificate.subject ?? 'a certificate'}, valid until ${certificate.valid_to ? formatDate(certificate.valid_to) : '?'}${certificate.has_ca ? ', with a CA' : ''}. Paste a new one to replace it. `,
        h('label', { for: remove.id }, remove, ' Remove it'),
      )
    : null;
  const certificateSection = h(
    'div',
    { class: 'field wide', dataset: { field: 'client_certificate' } },
    h('span', { class: 'label' }, 'Client certificate (mTLS, https only)'),
    stored,
    h('label', { for: cert.id }, 'Certificate (PEM)'),
    cert,
    h('label', { for: key.id }, 'Private key (PEM, unencrypted)'),
    key,
    h('label', { for: ca.id }, 'CA (PEM, optional)'),
    ca,
    h('p', { class: 'field-error', id: 'f-client_certificate-error', dataset: { errorFor: 'client_certificate' } }),
  );
  const syncType = () => (certificateSection.hidden = typeControl.value !== 'https' && certificate === null);
  typeControl.addEventListener('change', syncType);
  syncType();

  const section = h(
    'div',
    { class: 'field wide auth-section', id: 'auth-section', dataset: { field: 'auth' } },
    h('label', { for: kind.id }, 'Target authentication'),
    kind,
    ...Object.values(kindFields),
    h('p', { class: 'field-error', id: 'f-auth-error', dataset: { errorFor: 'auth' } }),
    h('p', { class: 'help' }, 'Secrets are never shown again; "set" means one is stored.'),
  );
  section.addEventListener('input', () => (touched = true));
  section.addEventListener('change', () => (touched = true));
  return {
    element: h('div', { class: 'field wide credentials' }, section, certificateSection),
    value() {
      const result = {};
      if (touched) {
        if (kind.value === '') {
          if (current !== null) result.auth = null;
        } else {
          const { fields, secret } = AUTH_FIELDS[kind.value];
          const auth = { type: kind.value };
          for (const [name] of [...fields, secret]) {
            const text = inputs[`${kind.value}.${name}`].value;
            if (text.trim() !== '') auth[name] = name === secret[0] ? text : text.trim();
          }
          result.auth = auth;
        }
      }
      if (remove.checked) result.client_certificate = null;
      else if (cert.value.trim() !== '') {
        result.client_certificate = { cert: cert.value };
        if (key.value.trim() !== '') result.client_certificate.key = key.value;
        if (ca.value.trim() !== '') result.client_certificate.ca = ca.value;
      }
      return result;
    },
  };
}

/** Selects the text of `element` when the clipboard is not available (plain http, permissions). */
function copyButton(id, source) {
  const copy = h('button', { type: 'button', class: 'button small', id }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(source().textContent);
      copy.textContent = 'Copied';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source());
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copy.textContent = 'Selected: press Ctrl+C';
    }
  });
  return copy;
}

/**
 * The signing secret right after create. The API keeps it and lets an admin key (internal for
 * script handlers) reveal it again or rotate it, so the dialog says where to find it later.
 * The dialog and its text are removed on close.
 */
async function showCreatedSecret(created) {
  await openDialog({
    title: `Handler ${created.id} created`,
    className: 'secret-dialog',
    body: () => {
      const secret = h('code', { class: 'secret', id: 'signing-secret' }, created.signing_secret);
      return h(
        'div',
        {},
        h('p', {}, 'Signing secret of this handler. Receivers verify the webhook-signature header with it.'),
        h('div', { class: 'secret-row' }, secret, copyButton('copy-secret', () => secret)),
        h('p', { class: 'help', id: 'secret-later' }, 'Give it to the receiver now. It is not shown in the list; an admin key can reveal it again, or rotate it, with the handler’s Signing secret action.'),
      );
    },
    actions: [{ label: 'Done', value: 'done', class: 'primary' }],
  });
  created.signing_secret = undefined;
}

/**
 * Signing secret of one handler: hidden until asked for (GET …/secret), hidden again on demand,
 * and rotated after a confirmation (POST …/rotate-secret). Nothing of it stays in the page once
 * the dialog closes.
 */
function openSecret(handler) {
  return openDialog({
    title: `Signing secret of handler ${handler.id}`,
    className: 'secret-dialog',
    body: () => {
      const secret = h('code', { class: 'secret', id: 'signing-secret', hidden: true });
      const copy = copyButton('copy-secret', () => secret);
      copy.hidden = true;
      const previous = h('p', { class: 'help', id: 'previous-secret', hidden: true });
      const result = h('div', { class: 'notice-inline', id: 'rotation-result', role: 'status', hidden: true });
      const error = h('p', { class: 'field-error', id: 'secret-error', role: 'alert' });
      const reveal = h('button', { type: 'button', class: 'button small', id: 'reveal-secret', 'aria-controls': 'signing-secret', 'aria-expanded': 'false' }, 'Reveal');
      const rotate = h('button', { type: 'button', class: 'button small', id: 'rotate-secret' }, icon('refresh'), 'Rotate secret');

      const show = (answer) => {
        secret.textContent = answer.signing_secret;
        secret.hidden = false;
        copy.hidden = false;
        copy.textContent = 'Copy';
        reveal.textContent = 'Hide';
        reveal.setAttribute('aria-expanded', 'true');
        // The previous secret is not shown: it is only there so receivers can switch over.
        const expires = answer.previous_secret && answer.previous_secret_expires_at;
        previous.hidden = !expires;
        previous.textContent = expires ? `The previous secret also signs until ${formatDate(answer.previous_secret_expires_at)}.` : '';
      };
      const hide = () => {
        secret.textContent = '';
        secret.hidden = true;
        copy.hidden = true;
        previous.hidden = true;
        reveal.textContent = 'Reveal';
        reveal.setAttribute('aria-expanded', 'false');
      };
      reveal.addEventListener('click', async () => {
        error.textContent = '';
        if (!secret.hidden) return hide();
        reveal.disabled = true;
        try {
          show(await api('GET', `/api/v1/handlers/${handler.id}/secret`));
        } catch (problem) {
          error.textContent = problem.message;
        } finally {
          reveal.disabled = false;
        }
      });
      rotate.addEventListener('click', async () => {
        error.textContent = '';
        const choice = await openDialog({
          title: `Rotate the signing secret of handler ${handler.id}?`,
          className: 'confirm rotate-confirm',
          body: h(
            'div',
            {},
            h('p', {}, `“${handler.name}” gets a new signing secret, used from now on.`),
            h('p', {}, 'The previous secret keeps signing too for the overlap period (SECRET_ROTATION_OVERLAP): each call carries both signatures, so the receiver can switch to the new secret in that time. After it, only the new secret signs.'),
          ),
          actions: [
            { label: 'Cancel', value: 'cancel', class: 'cancel' },
            { label: 'Rotate', value: 'rotate', class: 'primary confirm-rotate' },
          ],
        });
        if (choice !== 'rotate') return;
        rotate.disabled = true;
        try {
          const answer = await api('POST', `/api/v1/handlers/${handler.id}/rotate-secret`);
          show(answer);
          result.textContent = answer.previous_secret_expires_at
            ? `New secret in use. The previous one keeps signing until ${formatDate(answer.previous_secret_expires_at)}; give the receiver the new one before then.`
            : 'New secret in use.';
          result.hidden = false;
        } catch (problem) {
          error.textContent = problem.message;
        } finally {
          rotate.disabled = false;
        }
      });
      return h(
        'div',
        {},
        h('p', {}, 'Receivers verify the webhook-signature header with this secret. An admin key can reveal it at any time; it stays hidden until you ask.'),
        h('div', { class: 'secret-row' }, secret, reveal, copy),
        previous,
        error,
        result,
        h('div', { class: 'form-actions' }, rotate),
      );
    },
    actions: [{ label: 'Close', value: 'close', class: 'primary' }],
  });
}

/** Sends the sample payload of the handler's event now (POST …/test) and shows the log row. */
function testSendButton(handler) {
  const label = `Test send to handler ${handler.id}`;
  const button = h('button', { type: 'button', class: 'icon-button', title: 'Test send', 'aria-label': label, dataset: { action: 'test' } }, icon('send'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    let log;
    try {
      log = await api('POST', `/api/v1/handlers/${handler.id}/test`);
    } catch (error) {
      notify(`Test send to handler ${handler.id} failed: ${error.message}`, 'error');
      return;
    } finally {
      button.disabled = false;
    }
    await openDialog({
      title: `Test send to handler ${handler.id}`,
      className: 'test-dialog',
      body: (close) => {
        const facts = [
          ['Status', statusBadge(log.status)],
          ['Response code', log.response_code === null ? '—' : String(log.response_code)],
          // The test answer carries the measured duration unrounded; the stored row has whole
          // milliseconds (src/execution-logs/execution-log.ts), which is what the logs tab shows.
          ['Duration', `${Math.max(0, Math.round(log.duration_ms))} ms`],
          ['Error', log.error ? h('span', { class: 'error-text' }, log.error) : '—'],
          ['Event', h('code', {}, log.event)],
          ['Execution log', h('a', { href: `#/logs/${log.id}`, id: 'test-log-link', onclick: () => close(null) }, `${log.id} (payload and answer)`)],
        ];
        return h(
          'div',
          {},
          h('p', {}, `The sample payload of ${log.event} was sent to “${handler.name}” now, the way a delivery is.`),
          h('dl', { class: 'facts compact', id: 'test-result', dataset: { logId: log.id } }, facts.map(([term, detail]) => [h('dt', {}, term), h('dd', {}, detail)])),
        );
      },
      actions: [{ label: 'Close', value: 'close', class: 'primary' }],
    });
  });
  return button;
}
