// The files table: pages of GET /v1/files (100 at a time, keyset `after`, so any number of
// files costs one page per "Load more"), purpose filter and order on the server, search and
// column sort over the loaded rows, and per file: copy id, download, preview (.jsonl), delete.
// Everything from the server is written with textContent, never parsed as HTML.

export const PAGE_SIZE = 100;
export const PREVIEW_BYTES = 65536; // the preview reads at most this much of a file
export const PREVIEW_LINES = 50;

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(n) {
  if (n == null) return '–';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v < 10 ? Number(v.toFixed(1)) : Math.round(v)} ${UNITS[i]}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** Local time as YYYY-MM-DD HH:MM; "never" for 0/null. */
export function formatTime(t) {
  if (!t) return 'never';
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Creates an element; string and number children become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(typeof c === 'object' ? c : String(c));
  return el;
}

const SORTS = {
  filename: (a, b) => a.filename.localeCompare(b.filename),
  id: (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  purpose: (a, b) => a.purpose.localeCompare(b.purpose),
  bytes: (a, b) => a.bytes - b.bytes,
  created_at: (a, b) => a.created_at - b.created_at,
  expires_at: (a, b) => (a.expires_at ?? Infinity) - (b.expires_at ?? Infinity),
};

/** Reads at most max bytes of a stream, then cancels it (whatever the server sends). */
export async function readPrefix(stream, max) {
  const reader = stream.getReader();
  const buf = new Uint8Array(max);
  let n = 0;
  let ended = false;
  while (n < max) {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    const take = Math.min(value.byteLength, max - n);
    buf.set(value.subarray(0, take), n);
    n += take;
  }
  if (!ended) await reader.cancel();
  return { bytes: buf.subarray(0, n), ended };
}

export class FilesView {
  /**
   * @param el  the elements: body, status, more, search, purpose, order, headers (th list),
   *            confirm {dialog, name, id}, preview {dialog, title, status, lines}
   * @param ui  {api(), toast(msg, isError), changed(), authFailed(err), totalFiles()}
   */
  constructor(el, ui) {
    this.el = el;
    this.ui = ui;
    this.rows = []; // loaded files, in the server's order
    this.hasMore = false;
    this.loading = false;
    this.error = '';
    this.generation = 0; // bumped by reload(): answers for an older listing are dropped
    this.sortKey = null;
    this.sortDir = 1;
    el.more.addEventListener('click', () => this.loadMore());
    el.search.addEventListener('input', () => this.render());
    el.purpose.addEventListener('change', () => this.reload());
    el.order.addEventListener('change', () => this.reload());
    for (const th of el.headers) {
      th.querySelector('button').addEventListener('click', () => this.sortBy(th.dataset.key));
    }
  }

  clear() {
    this.generation++;
    this.rows = [];
    this.hasMore = false;
    this.error = '';
    this.el.search.value = '';
    this.render();
  }

  reload() {
    this.clear();
    return this.loadPage();
  }

  loadMore() {
    return this.loadPage();
  }

  async loadPage() {
    const gen = this.generation;
    const last = this.rows[this.rows.length - 1];
    this.loading = true;
    this.error = '';
    this.render();
    try {
      const page = await this.ui.api().listFiles({
        purpose: this.el.purpose.value,
        order: this.el.order.value,
        after: last ? last.id : '',
        limit: PAGE_SIZE,
      });
      if (gen !== this.generation) return;
      this.rows.push(...page.data);
      this.hasMore = page.has_more;
    } catch (e) {
      if (gen !== this.generation) return;
      if (e.status === 401) return this.ui.authFailed(e);
      this.error = e.message;
    } finally {
      if (gen === this.generation) {
        this.loading = false;
        this.render();
      }
    }
  }

  /** A file uploaded from this tab: shown at once where the server would list it. */
  added(f) {
    const purpose = this.el.purpose.value;
    if (purpose && f.purpose !== purpose) return;
    if (this.el.order.value === 'desc') this.rows.unshift(f);
    else if (!this.hasMore) this.rows.push(f);
    this.render();
  }

  sortBy(key) {
    if (this.sortKey === key) this.sortDir = -this.sortDir;
    else {
      this.sortKey = key;
      this.sortDir = 1;
    }
    this.render();
  }

  visible() {
    const q = this.el.search.value.trim().toLowerCase();
    let v = q ? this.rows.filter((f) => f.filename.toLowerCase().includes(q)) : this.rows.slice();
    if (this.sortKey) {
      const cmp = SORTS[this.sortKey];
      v.sort((a, b) => this.sortDir * cmp(a, b));
    }
    return v;
  }

  render() {
    const v = this.visible();
    for (const th of this.el.headers) {
      if (th.dataset.key === this.sortKey) th.setAttribute('aria-sort', this.sortDir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    const frag = document.createDocumentFragment();
    for (const f of v) frag.append(this.row(f));
    this.el.body.replaceChildren(frag);
    this.el.more.hidden = !this.hasMore;
    this.el.more.disabled = this.loading;
    this.el.status.textContent = this.statusText(v.length);
    this.el.status.classList.toggle('error', !!this.error);
  }

  statusText(shown) {
    if (this.error) return this.error;
    if (this.loading && !this.rows.length) return 'Loading…';
    const n = this.rows.length;
    const total = this.el.purpose.value ? null : this.ui.totalFiles();
    let s = total != null && !this.hasMore ? `${n} files` : `${n} files loaded`;
    if (total != null && this.hasMore) s = `${n} of ${total} files loaded`;
    else if (this.hasMore) s += ', more on the server';
    if (this.el.search.value.trim()) s += `; ${shown} match the search`;
    if (!n && !this.loading) s = this.el.purpose.value ? 'No files with this purpose.' : 'No files yet.';
    return s;
  }

  row(f) {
    const name = f.filename;
    const btn = (label, aria, onclick, cls = 'small') =>
      h('button', { type: 'button', class: cls, 'aria-label': `${aria} ${name}`, onclick }, label);
    const actions = h('td', { class: 'actions', 'data-label': 'Actions' });
    actions.append(btn('Copy id', 'Copy the id of', () => this.copy(f)));
    const dl = btn('Download', 'Download', () => this.download(f, dl));
    actions.append(dl);
    if (/\.jsonl$/i.test(name)) actions.append(btn('Preview', 'Preview', () => this.preview(f)));
    actions.append(btn('Delete', 'Delete', () => this.remove(f), 'small danger'));
    return h(
      'tr',
      { 'data-id': f.id },
      h('td', { class: 'name', 'data-label': 'Filename' }, name),
      h('td', { class: 'id mono', 'data-label': 'ID' }, f.id),
      h('td', { 'data-label': 'Purpose' }, f.purpose),
      h('td', { class: 'num', 'data-label': 'Size', title: `${f.bytes} bytes` }, formatBytes(f.bytes)),
      h('td', { class: 'time', 'data-label': 'Created', title: new Date(f.created_at * 1000).toISOString() }, formatTime(f.created_at)),
      h('td', { class: 'time', 'data-label': 'Expires', title: f.expires_at ? new Date(f.expires_at * 1000).toISOString() : null }, formatTime(f.expires_at)),
      actions,
    );
  }

  async copy(f) {
    try {
      await navigator.clipboard.writeText(f.id);
    } catch {
      // No clipboard API (a page not served over https or localhost): the old way.
      const t = h('textarea', { readonly: true, class: 'visually-hidden' }, f.id);
      document.body.append(t);
      t.select();
      const ok = document.execCommand('copy');
      t.remove();
      if (!ok) return this.ui.toast(`Could not copy; the id is ${f.id}`, true);
    }
    this.ui.toast(`Copied ${f.id}`);
  }

  /** Fetches the content with the key, checks its length, and saves it through a Blob. */
  async download(f, button) {
    button.disabled = true;
    try {
      const res = await this.ui.api().content(f.id);
      const reader = res.body.getReader();
      const chunks = [];
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        got += value.byteLength;
        if (f.bytes) button.textContent = `Download ${Math.floor((got * 100) / f.bytes)}%`;
      }
      if (got !== f.bytes) throw new Error(`The download ended after ${got} of ${f.bytes} bytes.`);
      const url = URL.createObjectURL(new Blob(chunks, { type: 'application/octet-stream' }));
      const a = h('a', { href: url, download: f.filename, class: 'visually-hidden' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      this.ui.toast(`Downloaded ${f.filename} (${formatBytes(got)})`);
    } catch (e) {
      if (e.status === 401) return this.ui.authFailed(e);
      this.ui.toast(e.message, true);
    } finally {
      button.disabled = false;
      button.textContent = 'Download';
    }
  }

  async remove(f) {
    const c = this.el.confirm;
    c.name.textContent = f.filename;
    c.id.textContent = f.id;
    c.dialog.returnValue = '';
    c.dialog.showModal();
    const answer = await new Promise((resolve) =>
      c.dialog.addEventListener('close', () => resolve(c.dialog.returnValue), { once: true }),
    );
    if (answer !== 'delete') return;
    try {
      await this.ui.api().deleteFile(f.id);
      this.rows = this.rows.filter((r) => r.id !== f.id);
      this.render();
      this.ui.toast(`Deleted ${f.filename}`);
      this.ui.changed();
    } catch (e) {
      if (e.status === 401) return this.ui.authFailed(e);
      this.ui.toast(e.message, true);
    }
  }

  /**
   * The first lines of a .jsonl file. Asks for the first 64 KiB with Range, and reads at most
   * that much of the body whatever the answer (200 with the whole file, or 206), then cancels.
   */
  async preview(f) {
    const p = this.el.preview;
    const ctrl = new AbortController();
    p.title.textContent = `Preview of ${f.filename}`;
    p.status.textContent = 'Loading…';
    p.status.classList.remove('error');
    p.lines.replaceChildren();
    p.dialog.addEventListener('close', () => ctrl.abort(), { once: true });
    p.dialog.showModal();
    try {
      const res = await this.ui.api().content(f.id, { signal: ctrl.signal, range: `bytes=0-${PREVIEW_BYTES - 1}` });
      const { bytes } = await readPrefix(res.body, PREVIEW_BYTES);
      const whole = bytes.byteLength >= f.bytes;
      const lines = new TextDecoder().decode(bytes).split('\n');
      if (whole && lines[lines.length - 1] === '') lines.pop();
      const cut = !whole && lines.length > 1 ? lines.pop() : null; // a line the read ended inside
      const shown = lines.slice(0, PREVIEW_LINES);
      p.lines.replaceChildren(
        ...shown.map((line) => {
          let ok = true;
          try {
            JSON.parse(line);
          } catch {
            ok = false;
          }
          return h('li', { class: ok ? null : 'bad', title: ok ? null : 'not valid JSON' }, line);
        }),
      );
      const more = lines.length > shown.length || cut !== null || !whole;
      p.status.textContent =
        `${shown.length} line${shown.length === 1 ? '' : 's'}${more ? ' from the start' : ''} of ` +
        `${formatBytes(f.bytes)}; read ${formatBytes(bytes.byteLength)} (HTTP ${res.status}).`;
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 401) {
        p.dialog.close();
        return this.ui.authFailed(e);
      }
      p.status.textContent = e.message;
      p.status.classList.add('error');
    }
  }
}
