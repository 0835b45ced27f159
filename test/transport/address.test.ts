import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/transport/address.js';

describe('isLoopback', () => {
  it('accepts localhost, ::1 and 127.0.0.0/8 only', () => {
    for (const host of ['localhost', '::1', '127.0.0.1', '127.1.2.3']) expect(isLoopback(host)).toBe(true);
    for (const host of ['0.0.0.0', '10.0.0.1', '128.0.0.1', '::', 'example.org', '127.example.org', ''])
      expect(isLoopback(host)).toBe(false);
  });
});
