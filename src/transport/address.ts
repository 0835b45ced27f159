/**
 * Address checks shared by every listener and client that must stay on loopback unless told otherwise (the
 * inspector, the simulators' CLIs, the Channel Access search and server). Pure; no protocol.
 */
import { isIP } from 'node:net';

/** True for `localhost`, `::1` and any IPv4 address in 127.0.0.0/8. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** `host:port`, an IPv6 host in brackets (`[::1]:5064`). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
