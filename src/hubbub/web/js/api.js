// The REST API under /api: JSON in and out, bearer token, typed errors.

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

// A 401 with one of these: the token is no good any more (sign in again). The
// last two: the session was ended (signed out elsewhere, revoked, a new
// password), or an admin deactivated the account.
const AUTH_CODES = new Set(["token_invalid", "token_expired", "not_authenticated", "session_ended", "account_deactivated"]);

export class Api {
  constructor({ token = null, onUnauthorized = null } = {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  get(path) {
    return this.request("GET", path);
  }

  /** A GET of a paged list: its items, and the next page's `after` (the
   * `X-Next-After` header) or null on the last page. */
  async page(path) {
    let next = null;
    const data = await this.request("GET", path, undefined, (res) => {
      next = res.headers.get("X-Next-After");
    });
    return { data, next };
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  put(path, body = {}) {
    return this.request("PUT", path, body);
  }

  patch(path, body = {}) {
    return this.request("PATCH", path, body);
  }

  /** DELETE (most answer 204: null). */
  del(path) {
    return this.request("DELETE", path);
  }

  /** The first `limit` users whose username or display name contains `q`
   * (any case), by username: `GET /api/users?q=`. */
  searchUsers(q, limit = 20) {
    return this.get(`/api/users?q=${encodeURIComponent(q)}&limit=${limit}`);
  }

  /** POST `form` (multipart) with XMLHttpRequest, which reports upload
   * progress (fetch does not): `onProgress(fraction)` as it goes. Returns
   * {done: a promise of the JSON answer (ApiError on failure), abort()}. */
  upload(path, form, onProgress) {
    const xhr = new XMLHttpRequest();
    const done = new Promise((resolve, reject) => {
      xhr.open("POST", path);
      xhr.setRequestHeader("Accept", "application/json");
      if (this.token) xhr.setRequestHeader("Authorization", `Bearer ${this.token}`);
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable && ev.total > 0) onProgress(ev.loaded / ev.total);
      };
      xhr.onload = () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(data);
          return;
        }
        const err = (data && data.error) || {};
        const code = err.code || `http_${xhr.status}`;
        if (xhr.status === 401 && this.token && AUTH_CODES.has(code) && this.onUnauthorized) {
          this.onUnauthorized(err.message || "Your session has ended.", code);
        }
        reject(new ApiError(xhr.status, code, err.message || xhr.statusText || "Upload failed", err.field || null));
      };
      xhr.onerror = () => reject(new ApiError(0, "network", "Cannot reach the server. Check your connection."));
      xhr.onabort = () => reject(new ApiError(0, "aborted", "The upload was cancelled."));
      xhr.send(form);
    });
    return { done, abort: () => xhr.abort() };
  }

  async request(method, path, body, onResponse = null) {
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "Cannot reach the server. Check your connection.");
    }
    if (onResponse) onResponse(res);
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      const code = err.code || `http_${res.status}`;
      if (res.status === 401 && this.token && AUTH_CODES.has(code) && this.onUnauthorized) {
        this.onUnauthorized(err.message || "Your session has ended.", code);
      }
      throw new ApiError(res.status, code, err.message || res.statusText || "Request failed", err.field || null);
    }
    return data;
  }
}

/** A channel name as a URL path segment (DM names hold ':' and ','). */
export function seg(name) {
  return encodeURIComponent(name);
}
