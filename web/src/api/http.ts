// http.ts - the one place the app talks HTTP to the control plane.
//
// Same-origin fetch with the session cookie (HttpOnly: the app never sees
// it). Mutating requests send JSON with Content-Type: application/json; the
// browser adds Origin, which the server's CSRF check requires. Errors come
// back as ApiError carrying the server's {error:{code,message}}. A 401 on
// any call except the ones that opt out (login) runs the unauthorized
// handler, which sends the user to the login page.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | null;
  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  signal?: AbortSignal;
  /** Do not treat 401 as "session gone" (the login form shows it instead). */
  allow401?: boolean;
  query?: Record<string, string | number | undefined | null>;
}

type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

const STATUS_TEXT: Record<number, string> = {
  400: 'the request was not accepted',
  401: 'please sign in',
  403: 'you are not allowed to do this',
  404: 'not found',
  409: 'conflict with the current state',
  413: 'the request is too large',
  429: 'too many attempts; try again later',
  500: 'the server hit an internal error',
  502: 'the server could not reach an upstream service',
  503: 'the server is not ready',
};

/** Build an ApiError from a non-2xx response body (JSON or not). */
export function errorFrom(status: number, bodyText: string, retryAfterHeader: string | null): ApiError {
  let code = `http_${status}`;
  let message = STATUS_TEXT[status] ?? `request failed (HTTP ${status})`;
  try {
    const j = JSON.parse(bodyText) as unknown;
    const e = (j && typeof j === 'object' && 'error' in j) ? (j as { error: unknown }).error : null;
    if (e && typeof e === 'object') {
      const eo = e as { code?: unknown; message?: unknown };
      if (typeof eo.code === 'string' && eo.code) code = eo.code;
      if (typeof eo.message === 'string' && eo.message) message = eo.message;
    } else if (typeof e === 'string' && e) {
      message = e;
    }
  } catch { /* not JSON: keep the generic text */ }
  let retry: number | null = null;
  if (retryAfterHeader && /^\d+$/.test(retryAfterHeader.trim())) retry = Number(retryAfterHeader.trim());
  return new ApiError(status, code, message, retry);
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export interface Http {
  request<T>(method: Method, path: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  onUnauthorized(fn: (() => void) | null): void;
}

export function createHttp(fetchFn: FetchFn): Http {
  let unauthorized: (() => void) | null = null;
  return {
    onUnauthorized(fn) { unauthorized = fn; },
    async request<T>(method: Method, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
      const headers: Record<string, string> = { Accept: 'application/json' };
      const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
      if (opts.signal) init.signal = opts.signal;
      if (method !== 'GET') {
        headers['Content-Type'] = 'application/json';
        if (body !== undefined) init.body = JSON.stringify(body);
      }
      let res: Response;
      try {
        res = await fetchFn(buildUrl(path, opts.query), init);
      } catch (e) {
        if (e instanceof DOMException && e.name === 'AbortError') throw e;
        if (e instanceof Error && e.name === 'AbortError') throw e;
        throw new ApiError(0, 'network', 'cannot reach the DaemonPulse server');
      }
      const text = await res.text();
      if (!res.ok) {
        const err = errorFrom(res.status, text, res.headers.get('Retry-After'));
        if (res.status === 401 && !opts.allow401 && unauthorized) unauthorized();
        throw err;
      }
      if (res.status === 204 || text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ApiError(res.status, 'bad_response', 'the server sent a response that is not JSON');
      }
    },
  };
}

export const http: Http = createHttp((input, init) => fetch(input, init));
