// Entry point: key entry, the caller's scopes, tabs and hash routing.
import { api, ApiError, session, whenUnauthorized } from './api.js';
import { clear, h, parseHash } from './dom.js';
import { renderHandlers } from './handlers.js';
import { renderLogDetail, renderLogs } from './logs.js';
import { renderCache } from './cache.js';
import { renderAudit } from './audit.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
let generation = 0;
let ctx = null;

const TABS = [
  { path: '/handlers', label: 'Handlers', visible: () => true },
  { path: '/logs', label: 'Execution Logs', visible: (c) => c.canRead },
  { path: '/cache', label: 'Cache Manager', visible: (c) => c.canRead },
  { path: '/audit', label: 'Audit', visible: (c) => c.isAdmin },
];

whenUnauthorized((error) => signOut(`The API refused the key: ${error.message}`));

function signOut(message) {
  session.clear();
  ctx = null;
  generation++;
  showSignIn(message);
}

function showSignIn(message = '') {
  who.hidden = true;
  clear(who);
  const input = h('input', {
    id: 'api-key',
    name: 'api-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'key-help',
  });
  const error = h('p', { class: 'field-error', id: 'key-error', role: 'alert' }, message);
  const button = h('button', { type: 'submit', class: 'button primary' }, 'Open console');
  const form = h(
    'form',
    { class: 'card signin', novalidate: true },
    h('h1', {}, 'Provisioning API console'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    error,
    h('p', { class: 'help', id: 'key-help' }, 'The key is kept in this browser tab only and is forgotten when the tab closes. A read-only key shows everything without edit controls.'),
    h('div', { class: 'form-actions' }, button),
    keySources(),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.textContent = 'Enter an API key';
      return;
    }
    button.disabled = true;
    error.textContent = '';
    try {
      const me = await api('GET', '/api/v1/auth/me', { key });
      session.set(key);
      input.value = '';
      await enter(me);
    } catch (problem) {
      error.textContent = problem instanceof ApiError && problem.status === 401 ? 'This key is unknown or revoked' : problem.message;
    } finally {
      button.disabled = false;
    }
  });
  clear(main, form);
  input.focus();
}

/** Where an operator gets a key: the first admin key, the keys command, and the scopes that open the console. */
function keySources() {
  const cmd = (text) => h('code', {}, text);
  return h(
    'section',
    { class: 'key-sources', id: 'key-sources', 'aria-labelledby': 'key-sources-title' },
    h('h2', { id: 'key-sources-title' }, 'Where a key comes from'),
    h(
      'ul',
      {},
      h(
        'li',
        {},
        'The first admin key: on its first start the service writes it to ',
        cmd('./data/admin-key.txt'),
        ' (readable by its owner only; ',
        cmd('ADMIN_KEY_FILE'),
        ' moves it), or installs the one given in ',
        cmd('BOOTSTRAP_ADMIN_KEY'),
        '. The start output says which. Store the key, then delete the file.',
      ),
      h('li', {}, 'More keys, on the service’s host: ', cmd('npm run keys -- create --name "ops console" --scopes read'), ' (also ', cmd('list'), ' and ', cmd('revoke ID'), '), or ', cmd('POST /api/v1/api-keys'), ' with an admin key.'),
      h(
        'li',
        { id: 'console-scopes' },
        'Scopes that open the console: ',
        cmd('admin'),
        ' (everything except script handlers), ',
        cmd('read'),
        ' (everything, read-only), ',
        cmd('internal'),
        ' (script handlers). An ',
        cmd('events'),
        ' key only posts events.',
      ),
    ),
  );
}

async function loadCatalog() {
  const catalog = await api('GET', '/api/v1/event-types');
  const events = new Map();
  for (const group of catalog.groups) for (const event of group.events) events.set(event.id, { ...event, group: group.name });
  // Wildcards: "*" and every "prefix.*" that covers at least one catalog event.
  const prefixes = new Set();
  for (const id of events.keys()) {
    const parts = id.split('.');
    for (let i = 1; i < parts.length; i++) prefixes.add(parts.slice(0, i).join('.'));
  }
  const wildcards = ['*', ...[...prefixes].sort().map((prefix) => `${prefix}.*`)];
  return { groups: catalog.groups, events, wildcards };
}

function buildContext(me, catalog) {
  const scopes = new Set(me.scopes);
  const isAdmin = scopes.has('admin');
  const isInternal = scopes.has('internal');
  return {
    me,
    catalog,
    isAdmin,
    isInternal,
    canRead: isAdmin || scopes.has('read'),
    canCreate: isAdmin || isInternal,
    /** Edit controls for a handler of this type: admin for http/https, internal for scripts. */
    canManage: (type) => (type === 'script' ? isInternal : isAdmin),
    /** Options for an event <select>; wildcards only where a handler's event may be one. */
    eventOptions({ wildcards }) {
      const options = catalog.groups.map((group) => ({
        group: group.name,
        items: group.events.map((event) => ({ value: event.id, label: event.id, title: event.description })),
      }));
      if (wildcards) {
        options.push({
          group: 'Wildcards',
          items: catalog.wildcards.map((value) => ({ value, label: value, title: describeEvent(catalog, value) })),
        });
      }
      return options;
    },
    describeEvent: (pattern) => describeEvent(catalog, pattern),
  };
}

function describeEvent(catalog, pattern) {
  if (pattern === '*') return 'Every event';
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    const count = [...catalog.events.keys()].filter((id) => id.startsWith(prefix)).length;
    return `Any of ${count} catalog event${count === 1 ? '' : 's'}`;
  }
  return catalog.events.get(pattern)?.description ?? '';
}

async function enter(me) {
  const catalog = await loadCatalog();
  ctx = buildContext(me, catalog);
  const scopes = me.scopes.join(', ');
  clear(
    who,
    h('span', { class: 'who-name', title: `Key “${me.name}”` }, me.name),
    h('span', { class: ['scope', ctx.canCreate ? 'scope-write' : 'scope-read'], id: 'scopes' }, ctx.canCreate ? scopes : `${scopes} · read-only`),
    h('button', { type: 'button', class: 'button small', id: 'sign-out', onclick: () => signOut('') }, 'Sign out'),
  );
  who.hidden = false;
  if (!ctx.canRead && !ctx.canCreate) {
    clear(
      main,
      h('div', { class: 'card signin' }, h('h1', {}, 'Not a console key'), h('p', {}, `The key “${me.name}” has the scopes ${scopes}. The console needs a key with admin, read or internal.`)),
    );
    return;
  }
  route();
}

function route() {
  if (!ctx) return;
  const current = ++generation;
  const isCurrent = () => current === generation && ctx !== null;
  const { path, params } = parseHash();
  const tabs = TABS.filter((tab) => tab.visible(ctx));
  const active = tabs.find((tab) => path === tab.path || path.startsWith(`${tab.path}/`)) ?? tabs[0];
  const view = h('section', { class: 'view', id: 'view', 'aria-live': 'polite' });
  clear(
    main,
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Sections' },
      tabs.map((tab) =>
        h('a', { href: `#${tab.path}`, class: ['tab', tab === active && 'active'], 'aria-current': tab === active ? 'page' : undefined }, tab.label),
      ),
    ),
    h('div', { id: 'notices', class: 'notices' }),
    view,
  );
  const render = () => {
    const detail = /^\/logs\/(\d+)$/.exec(path);
    if (detail && ctx.canRead) return renderLogDetail(view, ctx, Number(detail[1]), isCurrent);
    if (active.path === '/logs') return renderLogs(view, ctx, params, isCurrent);
    if (active.path === '/cache') return renderCache(view, ctx, isCurrent);
    if (active.path === '/audit') return renderAudit(view, ctx, params, isCurrent);
    return renderHandlers(view, ctx, params, isCurrent);
  };
  Promise.resolve(render()).catch((error) => {
    if (!isCurrent()) return;
    clear(view, h('div', { class: 'notice notice-error', role: 'alert' }, `Could not load this page: ${error.message}`));
  });
}

window.addEventListener('hashchange', route);

async function start() {
  if (!session.key) return showSignIn();
  try {
    await enter(await api('GET', '/api/v1/auth/me'));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    showSignIn(error.message);
  }
}

void start();
