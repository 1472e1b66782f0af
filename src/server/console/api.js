// The Argot API as the console uses it: the public Files and Uploads endpoints plus the Argot
// extension GET /v1/argot/usage, on this origin. The key goes only in the Authorization header
// (no cookies are ever sent: fetch uses credentials 'omit', and argotd sets none).

export const API_BASE = '/v1';

/** An error answered by the server (status > 0) or a failed request (status 0). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** The server's own message from an OpenAI error envelope, else "HTTP <status>". */
export function errorFrom(status, statusText, text) {
  let message = '';
  try {
    const body = JSON.parse(text);
    if (body && body.error && typeof body.error.message === 'string') message = body.error.message;
  } catch {
    /* not JSON */
  }
  if (!message) message = `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
  return new ApiError(status, message);
}

const isAbort = (e) => e && e.name === 'AbortError';

export class Api {
  constructor(key) {
    this.key = key;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  /** fetch with the key; resolves the Response if 2xx, else throws ApiError. */
  async fetch(path, { method = 'GET', headers = {}, body, signal } = {}) {
    let res;
    try {
      res = await fetch(API_BASE + path, {
        method,
        headers: this.headers(headers),
        body,
        signal,
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch (e) {
      if (isAbort(e)) throw e;
      throw new ApiError(0, `The request failed before the server answered (${e.message}).`);
    }
    if (!res.ok) throw errorFrom(res.status, res.statusText, await res.text().catch(() => ''));
    return res;
  }

  async json(method, path, body, signal) {
    const init = { method, signal };
    if (body !== undefined) {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    const res = await this.fetch(path, init);
    return res.json();
  }

  usage(signal) {
    return this.json('GET', '/argot/usage', undefined, signal);
  }

  /** One page of GET /v1/files (keyset: `after` is the last id of the previous page). */
  listFiles({ purpose = '', after = '', limit = 100, order = 'desc' } = {}, signal) {
    const q = new URLSearchParams({ limit: String(limit), order });
    if (purpose) q.set('purpose', purpose);
    if (after) q.set('after', after);
    return this.json('GET', `/files?${q}`, undefined, signal);
  }

  deleteFile(id) {
    return this.json('DELETE', `/files/${encodeURIComponent(id)}`);
  }

  /** The content's Response (its body not read yet). */
  content(id, { signal, range } = {}) {
    return this.fetch(`/files/${encodeURIComponent(id)}/content`, {
      headers: range ? { Range: range } : {},
      signal,
    });
  }

  /**
   * POST with XMLHttpRequest, for upload progress: onProgress(loaded, total) as the body goes
   * out. Resolves the JSON reply; rejects ApiError, or an AbortError when signal aborts.
   */
  xhrPost(path, body, { onProgress, signal } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const abort = () => xhr.abort();
      const done = () => signal && signal.removeEventListener('abort', abort);
      if (signal && signal.aborted) {
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
        return;
      }
      xhr.open('POST', API_BASE + path);
      xhr.setRequestHeader('Authorization', `Bearer ${this.key}`);
      xhr.responseType = 'text';
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
      xhr.onload = () => {
        done();
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            resolve(JSON.parse(xhr.responseText));
          } catch {
            reject(new ApiError(xhr.status, 'The server sent a reply that is not JSON.'));
          }
        } else {
          reject(errorFrom(xhr.status, xhr.statusText, xhr.responseText));
        }
      };
      xhr.onerror = () => {
        done();
        reject(new ApiError(0, 'The connection failed before the server answered.'));
      };
      xhr.onabort = () => {
        done();
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
      };
      if (signal) signal.addEventListener('abort', abort);
      xhr.send(body);
    });
  }
}
