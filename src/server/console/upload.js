// One file's upload. Up to the server's single-request limit (max_file_bytes of
// GET /v1/argot/usage) it is one POST /v1/files; above it, the Uploads API: POST /v1/uploads,
// the parts in parallel (multipart field `data`, each part retried on a failed connection or a
// 5xx), then /complete with the part ids in order. Cancel aborts what is in flight and, for
// the Uploads API, calls /cancel so the parts stop counting against the quota.

export const PART_PARALLEL = 3; // parts in flight at once
export const PART_ATTEMPTS = 3; // tries of one part before the upload fails
export const PART_SIZE_MAX = 64 * 1024 * 1024;
const RETRY_DELAY_MS = 300; // times the attempt number

const isAbort = (e) => e && e.name === 'AbortError';
// A part is worth re-sending when the connection failed or the server had a passing problem;
// a 4xx (quota, a cancelled upload) would fail again.
const retryable = (e) => e.status === 0 || e.status === 408 || e.status === 429 || e.status >= 500;

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
      },
      { once: true },
    );
  });
}

/** The part size for a file: the server's part limit, at most 64 MiB. */
export function partSize(limits) {
  return Math.max(1, Math.min(limits.max_part_bytes, PART_SIZE_MAX));
}

export class Upload {
  /**
   * @param api        an Api (api.js)
   * @param file       a File
   * @param options    {purpose, expiresAfter (seconds or 0), limits (the usage reply)}
   */
  constructor(api, file, { purpose, expiresAfter, limits }) {
    this.api = api;
    this.file = file;
    this.purpose = purpose;
    this.expiresAfter = expiresAfter || 0;
    this.limits = limits;
    this.viaParts = file.size > limits.max_file_bytes;
    this.state = 'queued'; // queued, uploading, completing, done, failed, cancelled
    this.sent = 0; // bytes of the file sent so far (estimated from the body's progress)
    this.parts = 0;
    this.retries = 0;
    this.error = '';
    this.result = null; // the file object once done
    this.uploadId = null;
    this.cancelled = false;
    this.ctrl = new AbortController();
    this.listeners = new Set();
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  emit() {
    for (const fn of this.listeners) fn(this);
  }

  get active() {
    return this.state === 'queued' || this.state === 'uploading' || this.state === 'completing';
  }

  cancel() {
    if (!this.active) return;
    this.cancelled = true;
    this.ctrl.abort();
    if (this.state === 'queued') {
      this.state = 'cancelled';
      this.emit();
    }
  }

  /** Runs the upload to its end; never rejects (the outcome is in state, error, result). */
  async run() {
    if (this.cancelled) return;
    this.state = 'uploading';
    this.emit();
    try {
      this.result = this.viaParts ? await this.runParts() : await this.runSingle();
      this.sent = this.file.size;
      this.state = 'done';
    } catch (e) {
      this.ctrl.abort(); // stops the other parts in flight
      if (this.cancelled || isAbort(e)) {
        this.state = 'cancelled';
      } else {
        this.state = 'failed';
        this.error = e.message;
      }
      if (this.uploadId) await this.cancelRemote();
    }
    this.emit();
  }

  async cancelRemote() {
    try {
      await this.api.json('POST', `/uploads/${encodeURIComponent(this.uploadId)}/cancel`, undefined);
    } catch (e) {
      // An upload that failed at /complete may be completed or cancelled already.
      if (this.state === 'cancelled') {
        this.state = 'failed';
        this.error = `The upload was stopped, but cancelling it on the server failed: ${e.message}`;
      }
    }
  }

  runSingle() {
    const fd = new FormData();
    fd.append('purpose', this.purpose);
    if (this.expiresAfter) {
      fd.append('expires_after[anchor]', 'created_at');
      fd.append('expires_after[seconds]', String(this.expiresAfter));
    }
    fd.append('file', this.file, this.file.name);
    return this.api.xhrPost('/files', fd, {
      signal: this.ctrl.signal,
      onProgress: (loaded, total) => {
        this.sent = total ? Math.min(this.file.size, Math.round((this.file.size * loaded) / total)) : 0;
        this.emit();
      },
    });
  }

  async runParts() {
    const { file } = this;
    const body = {
      filename: file.name,
      purpose: this.purpose,
      bytes: file.size,
      mime_type: file.type || 'application/octet-stream',
    };
    if (this.expiresAfter) body.expires_after = { anchor: 'created_at', seconds: this.expiresAfter };
    const up = await this.api.json('POST', '/uploads', body, this.ctrl.signal);
    this.uploadId = up.id;
    const size = partSize(this.limits);
    const count = Math.ceil(file.size / size);
    const ids = new Array(count);
    const sent = new Array(count).fill(0);
    this.parts = count;
    let next = 0;
    const worker = async () => {
      while (next < count && !this.ctrl.signal.aborted) {
        const i = next++;
        ids[i] = await this.sendPart(i, file.slice(i * size, Math.min(file.size, (i + 1) * size)), sent);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PART_PARALLEL, count) }, worker));
    this.state = 'completing';
    this.emit();
    const done = await this.api.json(
      'POST',
      `/uploads/${encodeURIComponent(up.id)}/complete`,
      { part_ids: ids },
      this.ctrl.signal,
    );
    if (!done.file) throw new Error(`The upload ended as "${done.status}" without a file.`);
    return done.file;
  }

  async sendPart(i, blob, sent) {
    const progress = (n) => {
      sent[i] = n;
      this.sent = sent.reduce((a, b) => a + b, 0);
      this.emit();
    };
    for (let attempt = 1; ; attempt++) {
      const fd = new FormData();
      fd.append('data', blob, this.file.name);
      try {
        const part = await this.api.xhrPost(`/uploads/${encodeURIComponent(this.uploadId)}/parts`, fd, {
          signal: this.ctrl.signal,
          onProgress: (loaded, total) => progress(total ? Math.round((blob.size * loaded) / total) : 0),
        });
        progress(blob.size);
        return part.id;
      } catch (e) {
        progress(0);
        if (isAbort(e) || !retryable(e) || attempt >= PART_ATTEMPTS) throw e;
        this.retries++;
        this.emit();
        await sleep(RETRY_DELAY_MS * attempt, this.ctrl.signal);
      }
    }
  }
}
