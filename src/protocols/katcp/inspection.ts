/**
 * The wire side of an `InspectingClient` inspection: the machine's `inspect` actor and the single-name lookups.
 * `?help` (and `?request-timeout-hint` when the server has flag `T`) for requests, `?sensor-list` for sensors,
 * either in full (`'all'`) or by name. A full listing answered with a failure is a SyncError
 * (`Error reply during sync process for <address>: ...`), any other failure is wrapped in a SyncError
 * (`Sync of <address> failed: ...`); a named lookup the server does not know gives no entry (the name is removed
 * from the model), and informs about other names are ignored. A named lookup's failure means "not known" only when
 * its message says so (`notKnown`), as katcp-python's `Unknown request` / `Unknown sensor` check; any other failure
 * is a SyncError like a full listing's: the server could not answer, which says nothing about the name.
 */
import type {
  InspectionResult,
  InspectionScope,
  RequestInfo,
  SensorInfo,
} from '../../../machines/katcp/inspectingClient.js';
import type { RawReply } from './client.js';
import { type ArgValue, argText, type KatcpMessage, messageText } from './codec.js';
import { SyncError } from './errors.js';
import { decodeFloat } from './wire.js';

/** The device being inspected: its address (for messages) and a way to send it a request. */
export interface InspectedDevice {
  readonly address: string;
  request(name: string, args: ArgValue[], signal: AbortSignal | undefined): Promise<RawReply>;
}

/**
 * Named lookups of one kind made one by one at most; a scope naming more (an `#interface-changed` listing thousands
 * of sensors) is one full listing kept to the names asked, as katcp-python re-inspects in full on every change: the
 * same model, without a flood of requests.
 */
export const MAX_NAMED_LOOKUPS = 64;

/**
 * Whether a failed named lookup's message says the server does not know the name: katcp-python's servers reply
 * `Unknown request` / `Unknown sensor` (what its InspectingClient checks for), aiokatcp's `request <name> is not
 * known` and `Unknown sensor '<name>'`.
 */
const NOT_KNOWN = /\bunknown (request|sensor)\b|\bis not known\b/i;

function notKnown(reply: KatcpMessage): boolean {
  const text = reply.args[1]?.toString('utf8');
  return text !== undefined && NOT_KNOWN.test(text);
}

/** Whether a reply's code is `ok`. */
export function isOk(reply: KatcpMessage): boolean {
  return reply.args[0]?.toString('utf8') === 'ok';
}

/** Inspect `scope` of the device: the machine's `inspect` actor (and the single-name lookups). */
export async function inspectDevice(
  device: InspectedDevice,
  scope: InspectionScope,
  flags: string,
  signal: AbortSignal,
): Promise<InspectionResult> {
  const requests: RequestInfo[] = [];
  const sensors: SensorInfo[] = [];
  try {
    if (scope.requests === 'all') requests.push(...(await inspectRequests(device, null, flags, signal)));
    else if (scope.requests && scope.requests.length > MAX_NAMED_LOOKUPS)
      requests.push(...only(await inspectRequests(device, null, flags, signal), scope.requests));
    else if (scope.requests) {
      const found = await Promise.all(scope.requests.map((n) => inspectRequests(device, n, flags, signal)));
      for (const f of found) requests.push(...f);
    }
    if (scope.sensors === 'all') sensors.push(...(await inspectSensors(device, null, signal)));
    else if (scope.sensors && scope.sensors.length > MAX_NAMED_LOOKUPS)
      sensors.push(...only(await inspectSensors(device, null, signal), scope.sensors));
    else if (scope.sensors) {
      const found = await Promise.all(scope.sensors.map((n) => inspectSensors(device, n, signal)));
      for (const f of found) sensors.push(...f);
    }
  } catch (error) {
    if (error instanceof SyncError) throw error;
    const e = error as Error;
    throw new SyncError(`Sync of ${device.address} failed: ${e?.message ?? String(e)}`, { cause: error });
  }
  return { scope, requests, sensors };
}

/** The items of a full listing that a named scope asked for. */
function only<T extends { name: string }>(listed: T[], names: readonly string[]): T[] {
  const asked = new Set(names);
  return listed.filter((item) => asked.has(item.name));
}

async function inspectRequests(
  device: InspectedDevice,
  name: string | null,
  flags: string,
  signal?: AbortSignal,
): Promise<RequestInfo[]> {
  const { reply, informs } = await device.request('help', name === null ? [] : [name], signal);
  if (!isOk(reply)) {
    if (name !== null && notKnown(reply)) return []; // a named lookup the server does not know: removed
    throw new SyncError(`Error reply during sync process for ${device.address}: ${messageText(reply)}`);
  }
  const infos = new Map<string, RequestInfo>();
  for (const m of informs) {
    if (m.name !== 'help' || m.args.length < 1) continue;
    const n = argText(m, 0);
    if (name !== null && n !== name) continue;
    infos.set(n, { name: n, description: argText(m, 1), timeoutHint: null });
  }
  if (flags.includes('T') && infos.size > 0) {
    const hint = await device.request('request-timeout-hint', name === null ? [] : [name], signal);
    if (!isOk(hint.reply)) {
      throw new SyncError(
        `Error retrieving request timeout hints for ${device.address}: ${messageText(hint.reply)}`,
      );
    }
    for (const m of hint.informs) {
      if (m.name !== 'request-timeout-hint' || m.args.length < 2) continue;
      const info = infos.get(argText(m, 0));
      if (!info) continue;
      let h: number;
      try {
        h = decodeFloat(m.args[1]);
      } catch {
        continue;
      }
      if (h > 0) info.timeoutHint = h;
    }
  }
  return [...infos.values()];
}

async function inspectSensors(
  device: InspectedDevice,
  name: string | null,
  signal?: AbortSignal,
): Promise<SensorInfo[]> {
  const { reply, informs } = await device.request('sensor-list', name === null ? [] : [name], signal);
  if (!isOk(reply)) {
    if (name !== null && notKnown(reply)) return [];
    throw new SyncError(`Error reply during sync process for ${device.address}: ${messageText(reply)}`);
  }
  const out: SensorInfo[] = [];
  for (const m of informs) {
    if (m.name !== 'sensor-list' || m.args.length < 4) continue;
    const n = argText(m, 0);
    if (name !== null && n !== name) continue;
    out.push({
      name: n,
      description: argText(m, 1),
      units: argText(m, 2),
      type: argText(m, 3),
      params: m.args.slice(4).map((a) => a.toString('utf8')),
    });
  }
  return out;
}
