/**
 * The output lines of `orrery tango` (see tango.ts): a value as text (scalars as they are, arrays as JSON, 64-bit
 * integers exact, NaN and infinities by name), a command result, an attribute read, a change event, each also as
 * one JSON object for `--json`, and an error as its Tango stack's reason and desc.
 */
import type { DeviceAttribute } from '../protocols/tango/deviceTypes.js';
import { DevFailed } from '../protocols/tango/errors.js';
import { MultiDevFailedError } from '../protocols/tango/giop/errors.js';

/** A value as JSON can carry it: bigint as a string, bytes as an array, non-finite numbers as names. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  }
  return v;
}

/** A value as one line of text: a scalar as it is, an array as JSON (64-bit integers exact). */
export function valueText(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return stringify(v);
}

/** JSON with bigints written as bare integers and non-finite numbers as NaN / Infinity (for reading, not parsing). */
function stringify(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return String(v);
  if (v instanceof Uint8Array) return `[${Array.from(v).join(', ')}]`;
  if (Array.isArray(v)) return `[${v.map(stringify).join(', ')}]`;
  if (v === undefined) return 'null';
  return JSON.stringify(v) ?? 'null';
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : '');

export function commandLine(
  device: string,
  command: string,
  value: unknown,
  json: boolean,
): string | undefined {
  if (json) return JSON.stringify({ device, command, value: jsonSafe(value) ?? null });
  return value === undefined ? undefined : valueText(value);
}

function attributeObject(device: string, a: DeviceAttribute): Record<string, unknown> {
  return {
    device,
    attribute: a.name,
    value: jsonSafe(a.value) ?? null,
    wValue: jsonSafe(a.wValue) ?? null,
    quality: a.quality,
    type: a.type,
    dataFormat: a.dataFormat,
    dimX: a.dimX,
    dimY: a.dimY,
    time: iso(a.time),
  };
}

/** An attribute read: `name  value  quality` (plus `(set point w)` when it differs), or its JSON. */
export function attributeLine(device: string, a: DeviceAttribute, json: boolean): string {
  if (json) return JSON.stringify(attributeObject(device, a));
  const set =
    a.wValue !== undefined && valueText(a.wValue) !== valueText(a.value)
      ? `  (set point ${valueText(a.wValue)})`
      : '';
  return `${a.name}  ${valueText(a.value)}  ${a.quality}${set}`;
}

/** A change event: `time device/attribute value quality`, an error event `time device/attribute ERROR ...`. */
export function eventLine(
  device: string,
  attribute: string,
  e: { value?: DeviceAttribute; errors?: readonly { reason: string; desc: string }[]; source: string },
  json: boolean,
  now: number,
): string {
  if (json) {
    if (e.errors !== undefined) {
      return JSON.stringify({ device, attribute, time: iso(now), source: e.source, errors: e.errors });
    }
    return JSON.stringify({
      ...attributeObject(device, e.value as DeviceAttribute),
      attribute,
      source: e.source,
    });
  }
  if (e.errors !== undefined) return `${iso(now)} ${device}/${attribute} ERROR ${stackText(e.errors)}`;
  const a = e.value as DeviceAttribute;
  return `${iso(a.time)} ${device}/${attribute} ${valueText(a.value)} ${a.quality}`;
}

/** The top of an error stack as `reason: desc` (the last entry, then the original one when they differ). */
export function stackText(errors: readonly { reason: string; desc: string }[]): string {
  if (errors.length === 0) return 'DevFailed (empty error stack)';
  const top = errors[errors.length - 1];
  const first = errors[0];
  const line = (e: { reason: string; desc: string }) => `${e.reason}: ${e.desc.trim()}`;
  return errors.length > 1 && first.reason !== top.reason ? `${line(top)} (${line(first)})` : line(top);
}

/** One line for a failure: a DevFailed's stack (a failed write: each attribute's), else the name and message. */
export function errorText(e: unknown): string {
  if (e instanceof MultiDevFailedError && e.failures.length > 0) {
    return e.failures.map((f) => `${f.name}: ${stackText(f.errors)}`).join('; ');
  }
  if (e instanceof DevFailed) return stackText(e.errors);
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
