/**
 * issue 9 item 7: the server answers the same requests equivalently. The requests behind
 * `fixtures/katcp-transcript1.txt` (what aiokatcp 1.9's example server sent) are sent again, over TCP, to the same
 * device built on Orrery's DeviceServer (`support/exampleServer.ts`), and every reply and reply-inform is compared
 * with the transcript's for the same message id: types, names, ids, reply codes, argument counts, and every value
 * that is deterministic (escaping, sensor names, descriptions, values, strategy echoes, counts). Timestamps, the
 * library version and client addresses are excluded; the two messages Orrery words on purpose differently (a
 * handler's crash: no server traceback; a bad strategy: the valid ones listed) are checked to carry aiokatcp's text.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { argsText, type KatcpMessage, parseAll, parseLine } from '../../src/protocols/katcp/codec.js';
import { TestClock } from '../../src/testing/index.js';
import {
  closeAllRawClients,
  createExampleServer,
  type ExampleServer,
  RawClient,
} from './support/exampleServer.js';

const transcript = parseAll(readFileSync(new URL('./fixtures/katcp-transcript1.txt', import.meta.url)));

/** The requests of transcript 1, reconstructed from its replies (escaped as on the wire). */
const REQUESTS: [mid: number, line: string][] = [
  [1, '?version-list[1]'],
  [2, '?sensor-list[2]'],
  [3, '?sensor-value[3]'],
  [4, '?sensor-value[4] counter-queries'],
  [5, '?sensor-value[5] /counter-q/'],
  [6, '?watchdog[6]'],
  [7, '?log-level[7]'],
  [8, '?log-level[8] debug'],
  [9, '?client-list[9]'],
  [10, '?echo[10] a\\_b\\\\c\\n \\@ \\t\\e\\0\\r'],
  [0, '?echo'],
  [11, '?fail[11] x'],
  [12, '?crash[12]'],
  [13, '?nosuch[13]'],
  [14, '?sensor-value[14] nosuch'],
  [15, '?sensor-sampling[15] counter-queries none'],
  [16, '?sensor-sampling[16] counter-queries event'],
  [17, '?counter[17]'],
  [18, '?counter[18]'],
  [19, '?sensor-sampling[19] counter-queries period 0.5'],
  [20, '?sensor-sampling[20] counter-queries differential 2'],
  [21, '?sensor-sampling[21] counter-queries event-rate 0.1 1'],
  [22, '?sensor-sampling[22] counter-queries differential-rate 1 0.1 10'],
  [23, '?sensor-sampling[23] counter-queries auto'],
  [24, '?sensor-sampling[24] counter-queries none'],
  [25, '?sensor-sampling[25] counter-queries bogus'],
  [26, '?sensor-sampling[26] counter-queries,foo event'],
  [27, '?help[27] echo'],
  [28, '?halt[28] now'],
];

const servers: ExampleServer[] = [];
afterEach(async () => {
  await closeAllRawClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The transcript's messages for one request: its informs and reply (mid 0: the reply without a mid). */
function fixtureGroup(mid: number, name: string): KatcpMessage[] {
  if (mid === 0) return transcript.filter((m) => m.mid === null && m.type === 'reply' && m.name === name);
  return transcript.filter((m) => m.mid === mid);
}

/** The `#sensor-status` run just before the reply in the transcript (what setting the strategy sent at once). */
function fixtureStatusesBefore(reply: KatcpMessage): string[][] {
  const i = transcript.indexOf(reply);
  const out: string[][] = [];
  for (let j = i - 1; j >= 0 && transcript[j].name === 'sensor-status'; j--)
    out.unshift(argsText(transcript[j]));
  return out;
}

const shape = (m: KatcpMessage) => ({ type: m.type, name: m.name, mid: m.mid, args: m.args.length });

/** Arguments with the non-deterministic ones masked. */
function masked(m: KatcpMessage): string[] {
  const a = argsText(m);
  if (m.name === 'sensor-value' && m.type === 'inform') a[0] = '<timestamp>';
  if (m.name === 'sensor-status') a[0] = '<timestamp>';
  if (m.name === 'version-list' && a[0] === 'katcp-library') a.splice(1, 2, '<library>', '<build>');
  if (m.name === 'version-connect' && a[0] === 'katcp-library') a.splice(1, 2, '<library>', '<build>');
  if (m.name === 'client-list' && m.type === 'inform') a[0] = '<address>';
  if (m.type === 'reply' && (m.name === 'crash' || (m.name === 'sensor-sampling' && m.mid === 25)))
    a[1] = '<message>';
  return a;
}

describe('issue 9 item 7: the Orrery device server answers transcript 1 as aiokatcp 1.9 did', () => {
  it('same replies and informs per message id, values equal where deterministic', async () => {
    const ex = createExampleServer({ clock: new TestClock() });
    servers.push(ex);
    const { port } = await ex.server.listen();
    const client = await RawClient.connect(port);
    await client.waitForLines(3);

    const hello = client.lines.slice(0, 3).map((l) => parseLine(Buffer.from(l)) as KatcpMessage);
    expect(hello.map(masked)).toEqual(transcript.slice(0, 3).map(masked));

    for (const [mid, line] of REQUESTS) {
      const req = parseLine(Buffer.from(line)) as KatcpMessage;
      const from = client.lines.length;
      client.send(line);
      const replyPrefix = mid === 0 ? `!${req.name} ` : `!${req.name}[${mid}]`;
      await client.waitFor((l) => l.startsWith(replyPrefix) || l === `!${req.name}`, from);
      const window = client.lines.slice(from).map((l) => parseLine(Buffer.from(l)) as KatcpMessage);
      const ours = window.filter((m) => (mid === 0 ? m.type === 'reply' : m.mid === mid));
      const theirs = fixtureGroup(mid, req.name);
      expect(ours.map(shape), line).toEqual(theirs.map(shape));
      expect(ours.map(masked), line).toEqual(theirs.map(masked));

      const ourReply = ours.at(-1) as KatcpMessage;
      const theirReply = theirs.at(-1) as KatcpMessage;
      if (req.name === 'sensor-sampling' && req.args.length > 1 && argsText(ourReply)[0] === 'ok') {
        // the #sensor-status sent at once when the strategy is set (none: nothing)
        const ourStatuses = window.filter((m) => m.name === 'sensor-status').map((m) => masked(m));
        const theirStatuses = fixtureStatusesBefore(theirReply).map((a) => ['<timestamp>', ...a.slice(1)]);
        if (argsText(req)[1] === 'none') expect(ourStatuses, line).toEqual([]);
        else {
          expect(ourStatuses.length, line).toBeGreaterThan(0);
          expect(ourStatuses, line).toEqual(theirStatuses.slice(-ourStatuses.length));
        }
      }
      if (req.name === 'counter') {
        const ourStatuses = window.filter((m) => m.name === 'sensor-status').map((m) => masked(m));
        expect(ourStatuses, line).toEqual(
          fixtureStatusesBefore(theirReply).map((a) => ['<timestamp>', ...a.slice(1)]),
        );
      }
    }

    // the two messages worded differently on purpose still carry aiokatcp's text
    const crash = argsText(fixtureGroup(12, 'crash')[0])[1];
    const ourCrash = client.lines.find((l) => l.startsWith('!crash[12]')) as string;
    expect(ourCrash).toBe("!crash[12] fail Error:\\_help\\_I've\\_fallen\\_over\\_and\\_can't\\_get\\_up");
    expect(crash).toContain("RuntimeError: help I've fallen over and can't get up");
    const bogus = argsText(fixtureGroup(25, 'sensor-sampling')[0])[1];
    const ourBogus = argsText(
      parseLine(
        Buffer.from(client.lines.find((l) => l.startsWith('!sensor-sampling[25]')) as string),
      ) as KatcpMessage,
    )[1];
    expect(ourBogus.startsWith(bogus.replace(/^b'/, "'"))).toBe(true);
  });
});
