import { describe, expect, it } from 'vitest';
import { hostPort, isLoopback } from '../../src/transport/address.js';

describe('isLoopback', () => {
  it('accepts localhost, ::1 and 127.0.0.0/8 only', () => {
    for (const host of ['localhost', '::1', '127.0.0.1', '127.1.2.3']) expect(isLoopback(host)).toBe(true);
    for (const host of ['0.0.0.0', '10.0.0.1', '128.0.0.1', '::', 'example.org', '127.example.org', ''])
      expect(isLoopback(host)).toBe(false);
  });
});

describe('hostPort', () => {
  it('writes host:port, an IPv6 host in brackets', () => {
    expect(hostPort('127.0.0.1', 5064)).toBe('127.0.0.1:5064');
    expect(hostPort('::1', 10000)).toBe('[::1]:10000');
    expect(hostPort('ioc.example', 0)).toBe('ioc.example:0');
  });
});
