/**
 * Renders what the native codec decoded in the shape the research prototype printed in the `*_decoded.txt`
 * captures (header lines, `args=` and `result=` as Python values), so tests compare field by field.
 */

import type { DevError } from '../../../../src/protocols/tango/errors.js';
import {
  ATTR_DATA_FORMAT,
  ATTR_QUALITY,
  type AttributeConfig5,
  type AttributeValue4,
  type AttributeValue5,
  type AttrValue,
  type ClntIdent,
  type CommandValue,
  DEV_STATES,
  ERR_SEVERITY,
  type GiopMessage,
  TK,
  type TypeCode,
} from '../../../../src/protocols/tango/giop/index.js';
import { pyBytesRepr } from './pyLiteral.js';

/** The prototype's one-line summary of a message. */
export function headerLine(m: GiopMessage, size: number, replyTo?: string): string {
  const base = `GIOP 1.${m.minor} ${m.littleEndian ? 'LE' : 'BE'} ${m.type} size=${size}`;
  if (m.type === 'Request') {
    const response = m.minor < 2 ? (m.responseExpected ? 'True' : 'False') : String(m.responseFlags);
    const ctx = m.serviceContexts.map((c) => c.id).join(', ');
    return `${base} id=${m.requestId} response=${response} key=${pyBytesRepr(m.objectKey)} op=${m.operation} svcctx=[${ctx}]`;
  }
  if (m.type === 'Reply') return `${base} id=${m.requestId} status=${m.status} (reply to ${replyTo})`;
  return base;
}

const view = (v: unknown): unknown => {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(view);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, view(x)]));
  }
  return v === undefined ? null : v;
};

function tcName(tc: TypeCode): string {
  switch (tc.kind) {
    case TK.alias:
      return `alias ${tc.name}`;
    case TK.struct:
      return `struct ${tc.name}`;
    case TK.enum:
      return `enum ${tc.name}`;
    case TK.string:
      return 'string';
    case TK.null:
      return 'null';
    case TK.boolean:
      return 'boolean';
    default:
      return `kind ${tc.kind}`;
  }
}

export function commandValueView(v: CommandValue, type: TypeCode): unknown {
  if (v.type === 'unknown') return { tc: tcName(type), value: view(v.any.value) };
  if (v.type === 'DevState') return { tc: tcName(type), value: `${DEV_STATES[v.value]}(${v.value})` };
  return { tc: tcName(type), value: view(v.value) };
}

export const clntIdentView = (c: ClntIdent): unknown =>
  c.language === 'CPP' ? { 'CPP(pid)': c.pid } : { JAVA: [c.mainClass, c.uuid.map(Number)] };

export const devErrorView = (e: DevError) => ({
  reason: e.reason,
  severity: ERR_SEVERITY.indexOf(e.severity),
  desc: e.desc,
  origin: e.origin,
});

function attrValueView(v: AttrValue): unknown {
  if (v.kind === 'DEVICE_STATE') return [v.kind, DEV_STATES[v.value]];
  return [v.kind, view(v.value)];
}

export function attributeValueView(a: AttributeValue5 | AttributeValue4): Record<string, unknown> {
  const out: Record<string, unknown> = {
    value: attrValueView(a.value),
    quality: ATTR_QUALITY[a.quality],
    data_format: ATTR_DATA_FORMAT[a.data_format],
  };
  if ('data_type' in a) out.data_type = a.data_type;
  return {
    ...out,
    time: [a.time.tv_sec, a.time.tv_usec, a.time.tv_nsec],
    name: a.name,
    r_dim: [a.r_dim.dim_x, a.r_dim.dim_y],
    w_dim: [a.w_dim.dim_x, a.w_dim.dim_y],
    err_list: a.err_list.map(devErrorView),
  };
}

export function attributeConfigView(c: AttributeConfig5): unknown {
  const a = c.att_alarm;
  const e = c.event_prop;
  return {
    name: c.name,
    writable: c.writable,
    data_format: c.data_format,
    data_type: c.data_type,
    memorized: c.memorized,
    mem_init: c.mem_init,
    max_dim_x: c.max_dim_x,
    max_dim_y: c.max_dim_y,
    description: c.description,
    label: c.label,
    unit: c.unit,
    standard_unit: c.standard_unit,
    display_unit: c.display_unit,
    format: c.format,
    min_value: c.min_value,
    max_value: c.max_value,
    writable_attr_name: c.writable_attr_name,
    level: c.level,
    root_attr_name: c.root_attr_name,
    enum_labels: c.enum_labels,
    att_alarm: [a.min_alarm, a.max_alarm, a.min_warning, a.max_warning, a.delta_t, a.delta_val, a.extensions],
    event_prop: {
      ch: [e.ch_event.rel_change, e.ch_event.abs_change, e.ch_event.extensions],
      per: [e.per_event.period, e.per_event.extensions],
      arch: [e.arch_event.rel_change, e.arch_event.abs_change, e.arch_event.period, e.arch_event.extensions],
    },
    extensions: c.extensions,
    sys_extensions: c.sys_extensions,
  };
}
