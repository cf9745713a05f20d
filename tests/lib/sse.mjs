// sse.mjs - a Server-Sent-Events client for integration tests: one fetch
// streamed through an incremental parser, every event (JSON data) kept in
// order, and next(pred) to wait for the first matching event, past or future.
export class SseClient {
  // url: full URL; opts: { cookie, lastEventId, headers, timeoutMs (default for next) }
  constructor(url, { cookie, lastEventId, headers = {}, timeoutMs = 15000 } = {}) {
    this.events = [];
    this.waiters = [];
    this.timeoutMs = timeoutMs;
    this.ctrl = new AbortController();
    const h = { accept: 'text/event-stream', ...headers };
    if (cookie) h.cookie = cookie;
    if (lastEventId) h['last-event-id'] = lastEventId;
    this.ready = fetch(url, { headers: h, signal: this.ctrl.signal }).then(async (r) => {
      this.status = r.status;
      if (r.status !== 200) { this.body = await r.text(); return; }
      this.pump(r.body.getReader());
    });
  }

  async pump(reader) {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { id: null, event: 'message', data: '' };
          const data = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue;
            const c = line.indexOf(':');
            const k = c < 0 ? line : line.slice(0, c);
            const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (k === 'id') ev.id = v; else if (k === 'event') ev.event = v; else if (k === 'data') data.push(v);
          }
          if (!data.length) continue;
          ev.data = JSON.parse(data.join('\n'));
          this.events.push(ev);
          this.waiters = this.waiters.filter((w) => !w(ev));
        }
      }
    } catch { /* aborted */ }
    this.ended = true;
  }

  // Resolve with the first event (already received or future) matching pred.
  next(pred, what = 'an event', timeoutMs = this.timeoutMs) {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((ev) => { if (pred(ev)) { clearTimeout(t); resolve(ev); return true; } return false; });
    });
  }

  find(pred) { return this.events.find((e) => pred(e)); }
  close() { this.ctrl.abort(); }
}
