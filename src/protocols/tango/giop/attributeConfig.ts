/**
 * `AttributeConfig_5` (get_attribute_config_5) with its `AttributeAlarm_3` and `EventProperties`, as CDR readers
 * and writers. Field names follow tango.idl; `writable`, `data_format` and `level` are enum ordinals
 * (`ATTR_WRITE_TYPE`, `ATTR_DATA_FORMAT`, `DISP_LEVEL` in tangoTypes.ts).
 */
import type { CdrReader, CdrWriter } from './cdr.js';
import { GiopEncodeError, GiopProtocolError } from './errors.js';
import { ATTR_DATA_FORMAT, ATTR_WRITE_TYPE, DISP_LEVEL } from './tangoTypes.js';

export interface AttributeAlarm3 {
  min_alarm: string;
  max_alarm: string;
  min_warning: string;
  max_warning: string;
  delta_t: string;
  delta_val: string;
  extensions: string[];
}
export interface EventProperties {
  ch_event: { rel_change: string; abs_change: string; extensions: string[] };
  per_event: { period: string; extensions: string[] };
  arch_event: { rel_change: string; abs_change: string; period: string; extensions: string[] };
}
export interface AttributeConfig5 {
  name: string;
  writable: number;
  data_format: number;
  data_type: number;
  memorized: boolean;
  mem_init: boolean;
  max_dim_x: number;
  max_dim_y: number;
  description: string;
  label: string;
  unit: string;
  standard_unit: string;
  display_unit: string;
  format: string;
  min_value: string;
  max_value: string;
  writable_attr_name: string;
  level: number;
  root_attr_name: string;
  enum_labels: string[];
  att_alarm: AttributeAlarm3;
  event_prop: EventProperties;
  extensions: string[];
  sys_extensions: string[];
}

function readEnum(r: CdrReader, names: readonly string[], what: string): number {
  const v = r.ulong();
  if (v >= names.length) throw new GiopProtocolError(`${what} ${v} out of range`);
  return v;
}
function writeEnum(w: CdrWriter, v: number, names: readonly string[], what: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= names.length) throw new GiopEncodeError(`bad ${what} ${v}`);
  w.ulong(v);
}

export function readAttributeConfig5(r: CdrReader): AttributeConfig5 {
  return {
    name: r.string(),
    writable: readEnum(r, ATTR_WRITE_TYPE, 'AttrWriteType'),
    data_format: readEnum(r, ATTR_DATA_FORMAT, 'AttrDataFormat'),
    data_type: r.long(),
    memorized: r.boolean(),
    mem_init: r.boolean(),
    max_dim_x: r.long(),
    max_dim_y: r.long(),
    description: r.string(),
    label: r.string(),
    unit: r.string(),
    standard_unit: r.string(),
    display_unit: r.string(),
    format: r.string(),
    min_value: r.string(),
    max_value: r.string(),
    writable_attr_name: r.string(),
    level: readEnum(r, DISP_LEVEL, 'DispLevel'),
    root_attr_name: r.string(),
    enum_labels: r.stringSeq(),
    att_alarm: {
      min_alarm: r.string(),
      max_alarm: r.string(),
      min_warning: r.string(),
      max_warning: r.string(),
      delta_t: r.string(),
      delta_val: r.string(),
      extensions: r.stringSeq(),
    },
    event_prop: {
      ch_event: { rel_change: r.string(), abs_change: r.string(), extensions: r.stringSeq() },
      per_event: { period: r.string(), extensions: r.stringSeq() },
      arch_event: {
        rel_change: r.string(),
        abs_change: r.string(),
        period: r.string(),
        extensions: r.stringSeq(),
      },
    },
    extensions: r.stringSeq(),
    sys_extensions: r.stringSeq(),
  };
}

export function writeAttributeConfig5(w: CdrWriter, c: AttributeConfig5): void {
  w.string(c.name);
  writeEnum(w, c.writable, ATTR_WRITE_TYPE, 'AttrWriteType');
  writeEnum(w, c.data_format, ATTR_DATA_FORMAT, 'AttrDataFormat');
  w.long(c.data_type);
  w.boolean(c.memorized);
  w.boolean(c.mem_init);
  w.long(c.max_dim_x);
  w.long(c.max_dim_y);
  for (const s of [
    c.description,
    c.label,
    c.unit,
    c.standard_unit,
    c.display_unit,
    c.format,
    c.min_value,
    c.max_value,
    c.writable_attr_name,
  ]) {
    w.string(s);
  }
  writeEnum(w, c.level, DISP_LEVEL, 'DispLevel');
  w.string(c.root_attr_name);
  w.stringSeq(c.enum_labels);
  const a = c.att_alarm;
  for (const s of [a.min_alarm, a.max_alarm, a.min_warning, a.max_warning, a.delta_t, a.delta_val])
    w.string(s);
  w.stringSeq(a.extensions);
  const e = c.event_prop;
  w.string(e.ch_event.rel_change);
  w.string(e.ch_event.abs_change);
  w.stringSeq(e.ch_event.extensions);
  w.string(e.per_event.period);
  w.stringSeq(e.per_event.extensions);
  w.string(e.arch_event.rel_change);
  w.string(e.arch_event.abs_change);
  w.string(e.arch_event.period);
  w.stringSeq(e.arch_event.extensions);
  w.stringSeq(c.extensions);
  w.stringSeq(c.sys_extensions);
}
