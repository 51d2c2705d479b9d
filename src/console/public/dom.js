// Small DOM helpers. Every value from the API enters the page as text (never as HTML).

/**
 * h('a', {href: '#/x', class: 'link', onclick: fn, dataset: {id: 1}}, 'text', child)
 * Props: class, text, dataset, on* listeners, hidden/disabled/checked/value/selected as
 * properties, anything else as an attribute (false/null/undefined leave it out).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (name === 'text') element.textContent = String(value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (['hidden', 'disabled', 'checked', 'value', 'selected', 'required'].includes(name)) element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

/** Line icons drawn on a 24×24 grid with the current text colour. */
const ICONS = {
  enabled: ['circle:12,12,9', 'M8 12.5l2.7 2.7L16.2 9.5'],
  disabled: ['circle:12,12,9', 'M8.5 8.5l7 7', 'M15.5 8.5l-7 7'],
  archived: ['M3.5 5h17v4h-17z', 'M5 9v10h14V9', 'M10 13h4'],
  logs: ['M9 6h11', 'M9 12h11', 'M9 18h11', 'M4.5 6h.01', 'M4.5 12h.01', 'M4.5 18h.01'],
  edit: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
  delete: ['M4 7h16', 'M9.5 7V4.5h5V7', 'M6.5 7l1 13h9l1-13', 'M10 11v5', 'M14 11v5'],
  plus: ['M12 5v14', 'M5 12h14'],
  chevron: ['M6 9l6 6 6-6'],
  refresh: ['M20 11a8 8 0 1 0-2.3 5.7', 'M20 4v7h-7'],
  retry: ['M4 12a8 8 0 0 1 14-5.3', 'M18 3v4h-4', 'M20 12a8 8 0 0 1-14 5.3', 'M6 21v-4h4'],
  details: ['M4 4h16v16H4z', 'M8 9h8', 'M8 13h8', 'M8 17h5'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  back: ['M15 6l-6 6 6 6'],
  key: ['circle:8,15,4', 'M11 12l9-9', 'M17 6l3 3', 'M14 9l2 2'],
  send: ['M21 3L10 14', 'M21 3l-7 18-4-7-7-4z'],
  pause: ['circle:12,12,9', 'M10 8.5v7', 'M14 8.5v7'],
};

export function icon(name, className = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon ${className}`.trim());
  for (const part of ICONS[name] ?? []) {
    let shape;
    if (part.startsWith('circle:')) {
      const [cx, cy, r] = part.slice(7).split(',');
      shape = document.createElementNS(SVG, 'circle');
      shape.setAttribute('cx', cx);
      shape.setAttribute('cy', cy);
      shape.setAttribute('r', r);
    } else {
      shape = document.createElementNS(SVG, 'path');
      shape.setAttribute('d', part);
    }
    svg.append(shape);
  }
  return svg;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** 2026-11-22 10:15:30 in the browser's time zone. */
export function formatDate(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function formatAgo(iso) {
  if (!iso) return '';
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** A JSON text pretty-printed when it parses, otherwise as it came. */
export function prettyJson(text) {
  if (text === null || text === undefined || text === '') return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text);
  }
}

/** Parses "#/path?x=1" into {path: '/path', params: URLSearchParams}. */
export function parseHash(hash = window.location.hash) {
  const raw = hash.replace(/^#/, '') || '/handlers';
  const [path, query = ''] = raw.split('?');
  return { path: path || '/handlers', params: new URLSearchParams(query) };
}

/** "#/path?x=1" with empty values left out. */
export function hashFor(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

/** A <select> with a blank first option and grouped or plain options. */
export function select(props, blankLabel, options, current = '') {
  const element = h('select', props);
  if (blankLabel !== null) element.append(h('option', { value: '' }, blankLabel));
  for (const option of options) {
    if (option.group) {
      const group = h('optgroup', { label: option.group });
      for (const item of option.items) group.append(h('option', { value: item.value, title: item.title }, item.label));
      element.append(group);
    } else {
      element.append(h('option', { value: option.value, title: option.title }, option.label));
    }
  }
  // An unknown value selects the first option (the blank one when there is one).
  element.value = current ?? '';
  if (element.value !== (current ?? '')) element.selectedIndex = 0;
  return element;
}

/** A modal dialog; resolves with the value passed to close(), or null when dismissed. */
export function openDialog({ title, body, actions = [], className = '' }) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: ['dialog', className], 'aria-label': title });
    const close = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value ?? null);
    };
    const closeButton = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => close(null) }, icon('close'));
    dialog.append(
      h('header', { class: 'dialog-head' }, h('h2', {}, title), closeButton),
      h('div', { class: 'dialog-body' }, typeof body === 'function' ? body(close) : body),
    );
    if (actions.length) {
      dialog.append(
        h(
          'footer',
          { class: 'dialog-actions' },
          actions.map((action) =>
            h('button', { type: 'button', class: ['button', action.class], onclick: () => close(action.value) }, action.label),
          ),
        ),
      );
    }
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A short message at the top of the page. */
export function notify(message, kind = 'info') {
  const area = document.getElementById('notices');
  if (!area) return;
  const note = h('div', { class: ['notice', `notice-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, message);
  const dismiss = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss', onclick: () => note.remove() }, icon('close'));
  note.append(dismiss);
  area.append(note);
  setTimeout(() => note.remove(), kind === 'error' ? 12000 : 6000);
}

/** Sets the hash; when it is already that, calls `reload` (no hashchange would fire). */
export function go(hash, reload) {
  if (window.location.hash === hash) reload();
  else window.location.hash = hash;
}

/** "1–50 of 120" with previous / next links. */
export function pager(result, hashForPage) {
  const { total, page, per_page: perPage } = result;
  const first = total === 0 ? 0 : (page - 1) * perPage + 1;
  const last = Math.min(total, page * perPage);
  const pages = Math.max(1, Math.ceil(total / perPage));
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('span', { class: 'pager-range' }, `${first}–${last} of ${total}`),
    page > 1 ? h('a', { class: 'button small', href: hashForPage(page - 1), rel: 'prev' }, 'Previous') : null,
    h('span', { class: 'pager-page' }, `Page ${page} of ${pages}`),
    page < pages ? h('a', { class: 'button small', href: hashForPage(page + 1), rel: 'next' }, 'Next') : null,
  );
}

/** Shows an API error's field details next to their fields; the rest in the form's banner. */
export function showFieldErrors(form, error) {
  clearFieldErrors(form);
  const unplaced = [];
  for (const detail of error.details ?? []) {
    const [key, ...rest] = String(detail.field ?? '').split('.');
    const slot = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
    if (!slot) {
      unplaced.push(detail.field ? `${detail.field}: ${detail.message}` : detail.message);
      continue;
    }
    const message = rest.length && !detail.message.includes(rest.join('.')) ? `${rest.join('.')} ${detail.message}` : detail.message;
    slot.append(h('span', { class: 'error-line' }, message));
    slot.closest('.field')?.classList.add('has-error');
    const control = form.querySelector(`[aria-describedby~="${slot.id}"]`);
    control?.setAttribute('aria-invalid', 'true');
  }
  const banner = form.querySelector('.form-error');
  if (banner) {
    const placed = (error.details ?? []).length - unplaced.length;
    const lead = placed > 0 && unplaced.length === 0 ? `${error.message}: see the marked fields.` : error.message;
    clear(banner, lead, unplaced.map((line) => h('span', { class: 'error-line' }, line)));
    banner.hidden = false;
  }
  form.querySelector('[aria-invalid="true"]')?.focus();
}

export function clearFieldErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.replaceChildren();
  for (const field of form.querySelectorAll('.has-error')) field.classList.remove('has-error');
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  const banner = form.querySelector('.form-error');
  if (banner) {
    banner.replaceChildren();
    banner.hidden = true;
  }
}
