// The console's wiring: sign in and out, the usage bar, the upload queue, the files table.
import { Api } from './{{api.js}}';
import { Upload, partSize } from './{{upload.js}}';
import { FilesView, formatBytes, h } from './{{files.js}}';

const KEY = 'argot.apiKey'; // sessionStorage: this tab only, gone when it closes
const UPLOADS_AT_ONCE = 2;

const $ = (id) => document.getElementById(id);

let api = null;
let usage = null;
let uploads = []; // every Upload shown in the list, in order
let toastTimer = 0;

function toast(message, isError = false) {
  const t = $('toast');
  t.textContent = message;
  t.classList.toggle('error', isError);
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), isError ? 8000 : 3000);
}

const files = new FilesView(
  {
    body: $('files-body'),
    status: $('files-status'),
    more: $('load-more'),
    search: $('search'),
    purpose: $('filter-purpose'),
    order: $('filter-order'),
    headers: [...document.querySelectorAll('#files-table th[data-key]')],
    confirm: { dialog: $('confirm-dialog'), name: $('confirm-name'), id: $('confirm-id') },
    preview: {
      dialog: $('preview-dialog'),
      title: $('preview-title'),
      status: $('preview-status'),
      lines: $('preview-lines'),
    },
  },
  {
    api: () => api,
    toast,
    changed: () => refreshUsage(),
    authFailed: (e) => signOut(e.message),
    totalFiles: () => (usage ? usage.file_count : null),
  },
);

// ---- signing in and out ----

function show(signedIn) {
  $('signin-view').hidden = signedIn;
  $('app-view').hidden = !signedIn;
  $('who').hidden = !signedIn;
}

function signInError(message) {
  const e = $('signin-error');
  e.textContent = message;
  e.hidden = !message;
  $('key').setAttribute('aria-invalid', message ? 'true' : 'false');
  if (message) $('key').setAttribute('aria-describedby', 'signin-error');
  else $('key').removeAttribute('aria-describedby');
}

async function signIn(key) {
  const candidate = new Api(key);
  const button = $('signin-button');
  button.disabled = true;
  try {
    usage = await candidate.usage();
  } catch (e) {
    sessionStorage.removeItem(KEY);
    show(false);
    signInError(e.message);
    $('key').focus();
    return;
  } finally {
    button.disabled = false;
  }
  api = candidate;
  sessionStorage.setItem(KEY, key);
  $('key').value = '';
  signInError('');
  $('org').textContent = usage.organization;
  show(true);
  renderUsage();
  await files.reload();
}

function signOut(message = '') {
  for (const u of uploads) u.cancel();
  uploads = [];
  $('upload-list').replaceChildren();
  sessionStorage.removeItem(KEY);
  api = null;
  usage = null;
  files.clear();
  show(false);
  signInError(message);
  $('key').focus();
}

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault(); // never a navigation: the key must not end up in a URL
  const key = $('key').value.trim();
  if (key) signIn(key);
});
$('sign-out').addEventListener('click', () => signOut());
$('refresh').addEventListener('click', () => {
  refreshUsage();
  files.reload();
});

// ---- usage ----

function renderUsage() {
  if (!usage) return;
  const { used_bytes: used, quota_bytes: quota, reserved_bytes: reserved } = usage;
  const meter = $('usage-meter');
  meter.max = quota || 1;
  meter.low = 0.75 * meter.max; // colours: fine below 75 %, a warning to 90 %, then alarm
  meter.high = 0.9 * meter.max;
  meter.value = Math.min(used, quota);
  const pct = quota ? (used * 100) / quota : 0;
  let text = `${formatBytes(used)} of ${formatBytes(quota)} used (${pct < 1 && used ? pct.toFixed(2) : Math.round(pct)}%)`;
  if (usage.file_count != null) text += ` · ${usage.file_count} file${usage.file_count === 1 ? '' : 's'}`;
  if (reserved) text += ` · ${formatBytes(reserved)} held by uploads in progress`;
  $('usage-text').textContent = text;
  $('usage-text').dataset.used = String(used);
  $('usage-limits').textContent =
    `One request takes files up to ${formatBytes(usage.max_file_bytes)}; larger ones go through ` +
    `the Uploads API in parts of ${formatBytes(partSize(usage))}, up to ` +
    `${formatBytes(usage.max_upload_bytes)}. batch files: up to ${formatBytes(usage.max_batch_bytes)}.`;
}

async function refreshUsage() {
  if (!api) return;
  try {
    usage = await api.usage();
    renderUsage();
    files.render();
  } catch (e) {
    if (e.status === 401) signOut(e.message);
    else toast(e.message, true);
  }
}

// ---- uploads ----

function uploadItem(u) {
  const name = u.file.name;
  const state = h('span', { class: 'state' });
  const progress = h('progress', { max: String(u.file.size || 1), value: '0', 'aria-label': `Progress of ${name}` });
  const button = h('button', { type: 'button', class: 'small' });
  const li = h('li', { class: 'upload-item' }, h('span', { class: 'name' }, name), button, progress, state);
  button.addEventListener('click', () => {
    if (u.active) u.cancel();
    else {
      li.remove();
      uploads = uploads.filter((x) => x !== u);
    }
  });
  const update = () => {
    li.className = `upload-item ${u.state}`;
    li.dataset.state = u.state;
    const size = u.file.size;
    progress.value = u.state === 'done' ? size || 1 : u.sent;
    button.textContent = u.active ? 'Cancel' : 'Dismiss';
    button.setAttribute('aria-label', `${u.active ? 'Cancel the upload of' : 'Dismiss'} ${name}`);
    const pct = size ? Math.floor((u.sent * 100) / size) : 0;
    const how = u.viaParts ? ` through the Uploads API${u.parts ? `, ${u.parts} parts` : ''}` : '';
    const retried = u.retries ? `, ${u.retries} part${u.retries === 1 ? '' : 's'} retried` : '';
    state.textContent = {
      queued: `Waiting (${formatBytes(size)})`,
      uploading: `Uploading ${pct}% (${formatBytes(u.sent)} of ${formatBytes(size)})${how}${retried}`,
      completing: `Assembling ${formatBytes(size)}${how}${retried}…`,
      done: `Uploaded as ${u.result ? u.result.id : '?'}${how}${retried}`,
      failed: u.error,
      cancelled: 'Cancelled',
    }[u.state];
  };
  u.onChange(update);
  update();
  return li;
}

function pump() {
  let running = uploads.filter((u) => u.state === 'uploading' || u.state === 'completing').length;
  for (const u of uploads) {
    if (running >= UPLOADS_AT_ONCE) break;
    if (u.state !== 'queued' || u.started) continue;
    u.started = true;
    running++;
    u.run().then(() => {
      if (u.state === 'done') {
        files.added(u.result);
        toast(`Uploaded ${u.file.name}`);
      } else if (u.state === 'failed') {
        toast(`${u.file.name}: ${u.error}`, true);
      }
      refreshUsage();
      pump();
    });
  }
}

function addFiles(list) {
  if (!api || !usage) return;
  const purpose = $('upload-purpose').value;
  const expiresAfter = Number($('upload-expires').value) || 0;
  for (const file of list) {
    const u = new Upload(api, file, { purpose, expiresAfter, limits: usage });
    uploads.push(u);
    $('upload-list').append(uploadItem(u));
  }
  pump();
}

const input = $('file-input');
input.addEventListener('change', () => {
  const list = [...input.files];
  input.value = '';
  addFiles(list);
});

const zone = $('dropzone');
for (const ev of ['dragenter', 'dragover']) {
  zone.addEventListener(ev, (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
}
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (e) => {
  e.preventDefault();
  zone.classList.remove('over');
  addFiles([...(e.dataTransfer ? e.dataTransfer.files : [])]);
});
// A file dropped beside the zone must not replace the console with the file.
for (const ev of ['dragover', 'drop']) window.addEventListener(ev, (e) => e.preventDefault());

// ---- start ----

const saved = sessionStorage.getItem(KEY);
if (saved) signIn(saved);
else {
  show(false);
  $('key').focus();
}
