// pulseSse.test.ts - the incremental SSE parser: every split position of a
// realistic stream (as text and as bytes, including inside multi-byte
// UTF-8 characters and between \r and \n) gives the same events.
import { describe, expect, test } from 'vitest';
import { SseParser, type SseEvent } from './pulseSse';

function parseAll(chunks: (string | Uint8Array)[], max?: number) {
  const out: SseEvent[] = [];
  const comments: string[] = [];
  let over = 0;
  const p = new SseParser({ onEvent: (e) => out.push(e), onComment: (c) => comments.push(c), onOversize: () => over++, maxEventBytes: max });
  for (const c of chunks) typeof c === 'string' ? p.push(c) : p.pushBytes(c);
  p.end();
  return { out, comments, over };
}

const STREAM =
  ': ok\n\n' +
  'event: start\ndata: {"request_id":"c_1","model":"m"}\n\n' +
  'event: reasoning\r\ndata: {"text":"Hmm, l\u00e9t me think \u2014 \ud83e\udd14"}\r\n\r\n' +
  'event: content\rdata: {"text":"<script>alert(1)</script>"}\r\r' +
  ': keepalive\n\n' +
  'event: content\ndata:{"text":"no space"}\n\n' +
  'data: line one\ndata: line two\n\n' +
  'event: stats\nid: 7\ndata: {"server":{"ttft_ms":1.5}}\n\n' +
  'event: end\ndata: {"stop_reason":"eosFound"}\n\n';

const EXPECTED: SseEvent[] = [
  { event: 'start', data: '{"request_id":"c_1","model":"m"}', id: '' },
  { event: 'reasoning', data: '{"text":"Hmm, l\u00e9t me think \u2014 \ud83e\udd14"}', id: '' },
  { event: 'content', data: '{"text":"<script>alert(1)</script>"}', id: '' },
  { event: 'content', data: '{"text":"no space"}', id: '' },
  { event: 'message', data: 'line one\nline two', id: '' },
  { event: 'stats', data: '{"server":{"ttft_ms":1.5}}', id: '7' },
  { event: 'end', data: '{"stop_reason":"eosFound"}', id: '7' },
];

describe('SseParser', () => {
  test('whole stream at once', () => {
    const r = parseAll([STREAM]);
    expect(r.out).toEqual(EXPECTED);
    expect(r.comments).toEqual(['ok', 'keepalive']);
  });

  test('every text split position gives the same events', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const r = parseAll([STREAM.slice(0, i), STREAM.slice(i)]);
      expect(r.out, `split at ${i}`).toEqual(EXPECTED);
    }
  });

  test('every pair of text split positions (three chunks)', () => {
    const s = STREAM.slice(0, 140);
    const whole = parseAll([s]).out;
    for (let i = 0; i <= s.length; i++) {
      for (let j = i; j <= s.length; j++) {
        expect(parseAll([s.slice(0, i), s.slice(i, j), s.slice(j)]).out, `${i}/${j}`).toEqual(whole);
      }
    }
  });

  test('every byte split position, including inside UTF-8 characters', () => {
    const bytes = new TextEncoder().encode(STREAM);
    for (let i = 0; i <= bytes.length; i++) {
      const r = parseAll([bytes.slice(0, i), bytes.slice(i)]);
      expect(r.out, `byte split at ${i}`).toEqual(EXPECTED);
    }
  });

  test('one byte at a time', () => {
    const bytes = new TextEncoder().encode(STREAM);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.slice(i, i + 1));
    expect(parseAll(chunks).out).toEqual(EXPECTED);
  });

  test('CR at the end of a chunk followed by LF in the next is one line end', () => {
    const r = parseAll(['data: a\r', '\ndata: b\r', '\n\r', '\n']);
    expect(r.out).toEqual([{ event: 'message', data: 'a\nb', id: '' }]);
  });

  test('leading BOM is ignored, fields without colon, unknown fields', () => {
    const r = parseAll(['\ufeffdata: x\nretry: 10\nfoo: bar\nevent\n\n']);
    expect(r.out).toEqual([{ event: 'message', data: 'x', id: '' }]);
  });

  test('an event without data is not dispatched; an unterminated event is dropped at end', () => {
    const r = parseAll(['event: start\n\n', 'event: end\ndata: {}']);
    expect(r.out).toEqual([]);
  });

  test('only one leading space is removed', () => {
    expect(parseAll(['data:  two spaces\n\n']).out[0].data).toBe(' two spaces');
  });

  test('an oversized event is dropped and the stream goes on', () => {
    const big = 'x'.repeat(100);
    const r = parseAll([`event: content\ndata: ${big}\n\n`, 'event: end\ndata: {}\n\n'], 50);
    expect(r.over).toBe(1);
    expect(r.out).toEqual([{ event: 'end', data: '{}', id: '' }]);
    // the same when the long line arrives in pieces (never buffered whole)
    const pieces = ['event: content\ndata: ', ...Array.from({ length: 10 }, () => 'y'.repeat(20)), '\ndata: more\n\n', 'event: end\ndata: {}\n\n'];
    const r2 = parseAll(pieces, 50);
    expect(r2.out).toEqual([{ event: 'end', data: '{}', id: '' }]);
  });
});
