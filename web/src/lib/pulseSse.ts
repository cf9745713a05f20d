// pulseSse.ts - an incremental parser for text/event-stream bodies read with
// fetch() (EventSource cannot POST). Feed it whatever the network delivered
// (bytes or text, split anywhere: inside a field name, between \r and \n,
// inside a multi-byte UTF-8 character) and it calls onEvent once per
// complete event, following the WHATWG "event stream interpretation" rules:
// lines end in \r\n, \n or \r; a blank line dispatches; "data" lines are
// joined with \n; ":" lines are comments; one leading space after the colon
// is dropped; a leading BOM is ignored; an event without data is not
// dispatched. Bounded: an event larger than `maxEventBytes` (characters) is
// dropped and reported with onOversize, and parsing continues.

export interface SseEvent {
  /** "message" when the event had no event: field */
  event: string;
  data: string;
  id: string;
}

export interface SseParserOptions {
  onEvent: (e: SseEvent) => void;
  onComment?: (text: string) => void;
  onOversize?: () => void;
  /** Default 4 MiB. */
  maxEventBytes?: number;
}

export class SseParser {
  private buf = '';
  private data: string[] = [];
  private dataLen = 0;
  private event = '';
  private lastId = '';
  private started = false;
  private skipLf = false;
  private oversize = false;
  private discardLine = false;
  private readonly decoder = new TextDecoder('utf-8');
  private readonly max: number;

  constructor(private readonly opts: SseParserOptions) {
    this.max = opts.maxEventBytes ?? 4 * 1024 * 1024;
  }

  /** Feed raw bytes (decoded as a UTF-8 stream: characters may be split). */
  pushBytes(chunk: Uint8Array): void {
    this.push(this.decoder.decode(chunk, { stream: true }));
  }

  /** Feed decoded text. */
  push(text: string): void {
    if (!text) return;
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let i = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (text.charCodeAt(0) === 10) i = 1;
    }
    const n = text.length;
    while (i < n) {
      // find the next line end
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 10 || c === 13) break;
        j++;
      }
      if (j === n) {
        if (!this.discardLine) {
          this.buf += text.slice(i);
          if (this.buf.length > this.max) { this.overflow(); this.discardLine = true; }
        }
        return;
      }
      const line = this.buf + text.slice(i, j);
      const discard = this.discardLine;
      this.discardLine = false;
      this.buf = '';
      if (text.charCodeAt(j) === 13) {
        if (j + 1 < n) {
          if (text.charCodeAt(j + 1) === 10) j++;
        } else {
          this.skipLf = true;
        }
      }
      i = j + 1;
      if (!discard) this.line(line);
    }
  }

  /** The body ended: flush the decoder; an event without its blank line is dropped (per spec). */
  end(): void {
    const rest = this.decoder.decode();
    if (rest) this.push(rest);
    this.buf = '';
    this.discardLine = false;
    this.reset();
  }

  private overflow(): void {
    if (!this.oversize) this.opts.onOversize?.();
    this.oversize = true;
    this.buf = '';
    this.data = [];
    this.dataLen = 0;
  }

  private reset(): void {
    this.data = [];
    this.dataLen = 0;
    this.event = '';
    this.oversize = false;
  }

  private line(line: string): void {
    if (line === '') {
      if (!this.oversize && this.data.length > 0) {
        this.opts.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastId });
      }
      this.reset();
      return;
    }
    if (this.oversize) return;
    if (line.charCodeAt(0) === 58 /* : */) {
      this.opts.onComment?.(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    let field: string, value: string;
    if (colon < 0) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    switch (field) {
      case 'event': this.event = value; break;
      case 'data':
        this.dataLen += value.length + 1;
        if (this.dataLen > this.max) { this.overflow(); return; }
        this.data.push(value);
        break;
      case 'id': if (!value.includes('\0')) this.lastId = value; break;
      default: break; // "retry" and unknown fields mean nothing to a fetch reader
    }
  }
}
