/**
 * Replay of transcripts captured from a real aiokatcp 1.9 server (what the server sent) against the client over
 * real TCP: a raw peer plays the server's lines, each reply and reply-inform only once the client has sent the
 * request with that message id, and the client's results must say what the transcript says.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { KatcpClient } from '../../src/protocols/katcp/client.js';
import { argsText, type KatcpMessage, parseLine } from '../../src/protocols/katcp/codec.js';
import { FailReply, InvalidReply } from '../../src/protocols/katcp/errors.js';
import { parseInterfaceChanged } from '../../src/protocols/katcp/wire.js';
import { useTestSystem } from '../support/testSystem.js';
import { RawPeer } from './support/peer.js';

const t = useTestSystem();
let peer: RawPeer | undefined;
let client: KatcpClient | undefined;

afterEach(async () => {
  await client?.close();
  await peer?.close();
  client = undefined;
  peer = undefined;
});

function fixture(name: string): string[] {
  const text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'latin1');
  return text.split('\n').filter((l) => l !== '');
}

const parse = (line: string) => parseLine(Buffer.from(line, 'latin1')) as KatcpMessage;
const text = (args: Buffer[]) => args.map((a) => a.toString('utf8'));
const outcome = (
  p: Promise<[Buffer[], KatcpMessage[]]>,
): Promise<{ args?: string[]; informs?: string[][]; error?: Error }> =>
  p.then(
    ([args, informs]) => ({ args: text(args), informs: informs.map(argsText) }),
    (error: Error) => ({ error }),
  );

describe('issue 9 item 7: aiokatcp transcripts replayed against the client', () => {
  it('katcp-transcript1: replies by id, out of order, escapes, fail/invalid, informs, unsolicited lines', async () => {
    const lines = fixture('katcp-transcript1.txt');
    const greeting = lines.filter((l) => l.startsWith('#version-connect'));
    const rest = lines.slice(greeting.length);
    // the request of each message id is named by its reply
    const names = new Map<number, string>();
    for (const l of rest) {
      const m = parse(l);
      if (m.type === 'reply' && m.mid !== null) names.set(m.mid, m.name);
    }
    expect(names.size).toBe(28);
    const system = t.start();
    peer = await RawPeer.start({ greeting });
    client = new KatcpClient('127.0.0.1', peer.port, { system });
    const unsolicited: KatcpMessage[] = [];
    client.onInform((m) => unsolicited.push(m));
    const conn = await peer.nextConnection();
    await client.waitConnected();
    expect(client.protocol).toEqual({ major: 5, minor: 1, flags: 'MIB' });
    const results = new Map<number, ReturnType<typeof outcome>>();
    for (let mid = 1; mid <= 28; mid++) results.set(mid, outcome(client.request(names.get(mid)!)));
    for (let mid = 1; mid <= 28; mid++) {
      const req = await conn.nextRequest();
      expect([req.name, req.mid]).toEqual([names.get(mid), mid]);
    }
    conn.send(...rest);
    const r = async (mid: number) => results.get(mid)!;

    expect(await r(1)).toEqual({
      args: ['3'],
      informs: [
        ['katcp-protocol', '5.1-MIB'],
        ['katcp-library', 'aiokatcp-0.0+unknown', 'aiokatcp-0.0+unknown.202611230807'],
        ['katcp-device', 'testapi-1.0', 'testapi-1.0.1'],
      ],
    });
    expect(await r(2)).toEqual({
      args: ['3'],
      informs: [
        ['counter-queries', 'number of ?counter queries', '', 'integer'],
        ['foo', 'nonsense', '', 'discrete', 'abc-def', 'ghi-k'],
        ['total', '', '', 'integer'],
      ],
    });
    expect((await r(3)).informs).toEqual([
      ['1795421238.57603', '1', 'counter-queries', 'nominal', '0'],
      ['1795421238.576039', '1', 'foo', 'unknown', 'abc-def'],
      ['1795421238.5766268', '1', 'total', 'nominal', '0'],
    ]);
    expect(await r(6)).toEqual({ args: [], informs: [] });
    expect(await r(7)).toEqual({ args: ['warn'], informs: [] });
    expect(await r(9)).toEqual({ args: ['1'], informs: [['127.0.0.1:47290']] });
    // every escape of the grammar, decoded
    expect(await r(10)).toEqual({ args: ['a b\\c\n', '', '\t\x1b\0\r'], informs: [] });
    expect(await r(11)).toEqual({ error: new FailReply('x is no good') });
    const crash = (await r(12)) as { error: Error };
    expect(crash.error).toBeInstanceOf(FailReply);
    expect(crash.error.message).toMatch(/^Traceback \(most recent call last\):\n {2}File "/);
    expect(crash.error.message).toContain("RuntimeError: help I've fallen over and can't get up\n");
    expect(await r(13)).toEqual({ error: new InvalidReply('unknown request nosuch') });
    expect(((await r(13)) as { error: Error }).error).toBeInstanceOf(InvalidReply);
    expect(await r(14)).toEqual({ error: new FailReply("Unknown sensor 'nosuch'") });
    expect(await r(16)).toEqual({ args: ['counter-queries', 'event'], informs: [] });
    expect(await r(21)).toEqual({ args: ['counter-queries', 'event-rate', '0.1', '1.0'], informs: [] });
    expect(await r(25)).toEqual({ error: new FailReply("b'bogus' is not a valid value for Strategy") });
    expect(await r(26)).toEqual({ args: ['counter-queries,foo', 'event'], informs: [] });
    expect(await r(27)).toEqual({ args: ['1'], informs: [['echo', 'Return the arguments to the caller']] });
    expect(await r(28)).toEqual({ error: new FailReply('too many arguments for halt') });
    // the #sensor-status informs (no id) reach the inform handlers, in order; `!echo ok` (no id) is ignored
    const statuses = rest.filter((l) => l.startsWith('#sensor-status')).map((l) => argsText(parse(l)));
    const later = unsolicited.slice(greeting.length);
    expect(unsolicited.slice(0, greeting.length).map(argsText)).toEqual(
      greeting.map((l) => argsText(parse(l))),
    );
    expect(later.map((m) => m.name)).toEqual(statuses.map(() => 'sensor-status'));
    expect(later.map(argsText)).toEqual(statuses);
    expect(client.pendingCount).toBe(0);
    expect(client.isConnected).toBe(true);
  });

  it('katcp-transcript2: #hello and #interface-changed reach their handlers; unsolicited reply ignored', async () => {
    const lines = fixture('katcp-transcript2.txt');
    const greeting = lines.slice(0, 3);
    const system = t.start();
    peer = await RawPeer.start({ greeting });
    client = new KatcpClient('127.0.0.1', peer.port, { system });
    const hellos: string[][] = [];
    const changes: unknown[] = [];
    const statuses: string[][] = [];
    client.addInformHandler('hello', (m) => hellos.push(argsText(m)));
    client.addInformHandler('interface-changed', (m) => changes.push(...parseInterfaceChanged(m.args)));
    client.addInformHandler('sensor-status', (m) => statuses.push(argsText(m)));
    const conn = await peer.nextConnection();
    await client.waitConnected();
    const sampling = client.request('sensor-sampling', 'total', 'event');
    const req = await conn.nextRequest();
    expect(argsText(req)).toEqual(['total', 'event']);
    conn.send(...lines.slice(3));
    expect(text((await sampling)[0])).toEqual(['total', 'event']);
    const done = client.request('watchdog');
    await conn.nextRequest();
    conn.send('!watchdog[2] ok');
    await done;
    expect(statuses).toEqual([['1795421248.5791895', '1', 'total', 'nominal', '9']]);
    expect(hellos).toEqual([['Hi I am a service task'], ['Hi I am a service task']]);
    expect(changes).toEqual([
      ...parseInterfaceChanged(['sensor', 'fixed-value', 'removed']),
      ...parseInterfaceChanged(['sensor', 'fixed-value', 'added']),
    ]);
    expect(changes).toHaveLength(2);
  });

  it('katcp-cc: the #version-connect informs negotiate 5.1-MIB and reach the inform handlers', async () => {
    const lines = fixture('katcp-cc.txt');
    const system = t.start();
    peer = await RawPeer.start({ greeting: lines });
    client = new KatcpClient('127.0.0.1', peer.port, { system });
    const seen: string[][] = [];
    client.onInform((m) => seen.push([m.name, ...argsText(m)]));
    await client.waitConnected();
    expect(client.protocol).toEqual({ major: 5, minor: 1, flags: 'MIB' });
    const done = client.request('watchdog');
    const conn = await peer.nextConnection();
    await conn.nextRequest();
    conn.send('!watchdog[1] ok');
    await done;
    expect(seen).toEqual(lines.map((l) => [parse(l).name, ...argsText(parse(l))]));
  });
});
