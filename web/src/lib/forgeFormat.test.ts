import { describe, expect, test } from 'vitest';
import { formatBytes, formatDuration, formatInt, formatRate, percent } from './forgeFormat';

describe('formatBytes', () => {
  test('binary units with one decimal', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(5027784224)).toBe('4.7 GiB');
    expect(formatBytes(24 * 1024 ** 3)).toBe('24.0 GiB');
    expect(formatBytes(200 * 1024 ** 2)).toBe('200 MiB');
    expect(formatBytes(2 * 1024 ** 4)).toBe('2.0 TiB');
  });
  test('negative and missing values', () => {
    expect(formatBytes(-1536)).toBe('-1.5 KiB');
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });
  test('rate', () => {
    expect(formatRate(104857600)).toBe('100 MiB/s');
    expect(formatRate(null)).toBe('—');
    expect(formatRate(-1)).toBe('—');
  });
});

describe('formatDuration', () => {
  test('seconds, minutes, hours, days', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(42_900)).toBe('42 s');
    expect(formatDuration(599_831)).toBe('9 min 59 s');
    expect(formatDuration(3_900_000)).toBe('1 h 05 min');
    expect(formatDuration(90_000_000)).toBe('1 d 1 h');
    expect(formatDuration(-5)).toBe('0 s');
    expect(formatDuration(null)).toBe('—');
  });
});

describe('formatInt and percent', () => {
  test('grouping', () => {
    expect(formatInt(131072)).toBe('131,072');
    expect(formatInt(999)).toBe('999');
    expect(formatInt(null)).toBe('—');
  });
  test('percent is clamped and safe', () => {
    expect(percent(1, 4)).toBe(25);
    expect(percent(5, 4)).toBe(100);
    expect(percent(-1, 4)).toBe(0);
    expect(percent(1, 0)).toBe(0);
  });
});
