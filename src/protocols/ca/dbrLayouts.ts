/**
 * Byte layouts of the 39 DBR types (db_access.h; caproto `_dbr.py`; research notes 1.8): where each metadata
 * field sits in the prefix that precedes the values. Pure data, computed once.
 *
 *   STS    status i16 @0, severity i16 @2 (+ alignment pad before the values)
 *   TIME   STS + secondsSinceEpoch u32 @4, nanoseconds u32 @8 (+ pad)
 *   GR     STS + [precision i16, pad i16 (FLOAT/DOUBLE)] + units char[8] + 6 limits of the native type
 *          (upper_disp, lower_disp, upper_alarm, upper_warning, lower_warning, lower_alarm) (+ pad)
 *          ENUM: STS + no_str i16 @4 + strs char[16][26] @6;  STRING: the STS layout (libca)
 *   CTRL   GR + upper_ctrl, lower_ctrl (+ pad)
 *   35/36  PUT_ACKT/PUT_ACKS: a bare u16;  37 STSACK_STRING: STS + ackt u16 @4 + acks u16 @6;  38 CLASS_NAME: char[40]
 *
 * Differences from upstream, on purpose: GR_STRING and CTRL_STRING follow libca/rsrv (the STS layout, 4 bytes),
 * not caproto (which answers CTRL_STRING with the TIME layout).
 */
import {
  ChannelType,
  type DbrFamily,
  DbrType,
  familyOf,
  LAST_BUFFER_TYPE,
  type NativeType,
  nativeOf,
} from './constants.js';
import { CaValueError } from './errors.js';

/** Bytes of one element of each native type: STRING 40, SHORT 2, FLOAT 4, ENUM 2, CHAR 1, LONG 4, DOUBLE 8. */
export const VALUE_SIZES: readonly number[] = [40, 2, 4, 2, 1, 4, 8];

/** The metadata limit names in wire order. */
export const LIMIT_NAMES = [
  'upperDispLimit',
  'lowerDispLimit',
  'upperAlarmLimit',
  'upperWarningLimit',
  'lowerWarningLimit',
  'lowerAlarmLimit',
  'upperCtrlLimit',
  'lowerCtrlLimit',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export interface DbrLayout {
  readonly dataType: number;
  readonly native: NativeType;
  readonly family: DbrFamily;
  /** Bytes before the first value. */
  readonly metadataSize: number;
  /** status/severity at 0 and 2. */
  readonly hasStatus: boolean;
  /** EPICS timestamp at 4 (secs) and 8 (nsec). */
  readonly hasStamp: boolean;
  readonly precisionAt?: number;
  readonly unitsAt?: number;
  readonly limitsAt?: number;
  /** 0, 6 (GR) or 8 (CTRL). */
  readonly limitCount: number;
  /** no_str at this offset, the 16 strings of 26 bytes right after it. */
  readonly enumAt?: number;
  /** ackt at this offset, acks 2 bytes later. */
  readonly ackAt?: number;
}

export const UNITS_SIZE = 8;
export const ENUM_STRING_SIZE = 26;
export const ENUM_STATES = 16;

/** STS and TIME metadata sizes per native type: the C structs' explicit `RISC_pad` fields, not derivable. */
const STS_SIZES: readonly number[] = [4, 4, 4, 4, 5, 4, 8];
const TIME_SIZES: readonly number[] = [12, 14, 12, 14, 15, 12, 16];

function layout(dataType: number): DbrLayout {
  const family = familyOf(dataType)!;
  const native = nativeOf(dataType);
  const base = { dataType, native, family, hasStatus: false, hasStamp: false, limitCount: 0 };
  const isString = native === ChannelType.STRING;
  switch (family) {
    case 'native':
      return { ...base, metadataSize: 0 };
    case 'sts':
      return { ...base, hasStatus: true, metadataSize: STS_SIZES[native] };
    case 'time':
      return { ...base, hasStatus: true, hasStamp: true, metadataSize: TIME_SIZES[native] };
    case 'gr':
    case 'ctrl': {
      if (isString) return { ...base, hasStatus: true, metadataSize: 4 };
      if (native === ChannelType.ENUM) return { ...base, hasStatus: true, enumAt: 4, metadataSize: 422 };
      const limitCount = family === 'gr' ? 6 : 8;
      const floating = native === ChannelType.FLOAT || native === ChannelType.DOUBLE;
      const unitsAt = floating ? 8 : 4;
      const limitsAt = unitsAt + UNITS_SIZE;
      const end = limitsAt + limitCount * VALUE_SIZES[native];
      return {
        ...base,
        hasStatus: true,
        ...(floating ? { precisionAt: 4 } : {}),
        unitsAt,
        limitsAt,
        limitCount,
        // GR_CHAR/CTRL_CHAR carry one pad byte after the limits (dbr_gr_char: `RISC_pad`).
        metadataSize: native === ChannelType.CHAR ? end + 1 : end,
      };
    }
    default:
      if (dataType === DbrType.STSACK_STRING) return { ...base, hasStatus: true, ackAt: 4, metadataSize: 8 };
      return { ...base, metadataSize: 0 };
  }
}

const LAYOUTS: readonly DbrLayout[] = Array.from({ length: LAST_BUFFER_TYPE + 1 }, (_, t) => layout(t));

/** The layout of a DBR type id, or undefined when the id is not 0..38. */
export function findLayout(dataType: number): DbrLayout | undefined {
  return Number.isInteger(dataType) ? LAYOUTS[dataType] : undefined;
}

/** The layout of a DBR type id; CaValueError when the id is not 0..38. */
export function layoutOf(dataType: number): DbrLayout {
  const found = findLayout(dataType);
  if (found === undefined)
    throw new CaValueError(`invalid DBR type ${dataType} (valid: 0..${LAST_BUFFER_TYPE})`);
  return found;
}
