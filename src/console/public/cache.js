// Cache manager: what this instance holds in memory and when it was last reloaded.
import { api } from './api.js';
import { clear, formatAgo, formatDate, h, icon, notify } from './dom.js';

export async function renderCache(view, ctx, isCurrent) {
  const status = await api('GET', '/api/v1/cache');
  if (!isCurrent()) return;
  show(view, ctx, status, isCurrent);
}

function show(view, ctx, status, isCurrent) {
  const refresh = ctx.isAdmin
    ? h('button', { type: 'button', class: 'button primary', id: 'cache-refresh' }, icon('refresh'), 'Refresh now')
    : null;
  refresh?.addEventListener('click', async () => {
    refresh.disabled = true;
    try {
      const next = await api('POST', '/api/v1/cache/refresh');
      if (!isCurrent()) return;
      show(view, ctx, next, isCurrent);
      notify(`Cache reloaded: ${next.handler_count} handler${next.handler_count === 1 ? '' : 's'} in ${next.refresh_duration_ms} ms`);
    } catch (error) {
      refresh.disabled = false;
      notify(error.message, 'error');
    }
  });
  const stat = (id, label, value, note) =>
    h('div', { class: 'stat', id }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value), note ? h('span', { class: 'muted' }, note) : null);
  clear(
    view,
    h('div', { class: 'toolbar' }, h('h1', {}, 'Cache Manager'), h('div', { class: 'toolbar-actions' }, refresh)),
    h(
      'div',
      { class: 'stats' },
      stat('cache-refreshed', 'Last refresh', formatDate(status.refreshed_at), status.refreshed_at ? formatAgo(status.refreshed_at) : 'not yet'),
      stat('cache-count', 'Handlers in cache', String(status.handler_count), 'enabled handlers, all stages'),
      stat('cache-duration', 'Refresh took', status.refresh_duration_ms === null ? '—' : `${status.refresh_duration_ms} ms`),
      stat('cache-version', 'Version', String(status.version), status.synced_at ? `change feed read ${formatAgo(status.synced_at)}` : ''),
    ),
    h(
      'p',
      { class: 'help' },
      `Changes made through the API apply at once on the instance that made them and reach the others within ${status.sync_interval_ms} ms. ` +
        `A full reload also runs on the schedule “${status.refresh_cron}”. These figures are those of the instance that answered.`,
    ),
  );
}
