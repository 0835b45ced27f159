import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteBatch } from '../../src/transport/writeBatch.js';

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

/** A client socket whose writes are counted, and what its peer received. */
async function pair(): Promise<{ socket: Socket; writes: Uint8Array[]; received: () => Promise<Buffer> }> {
  const chunks: Buffer[] = [];
  const server = createServer((peer) => peer.on('data', (c: Buffer) => chunks.push(c)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  open.push({
    close: () => {
      socket.destroy();
      server.close();
    },
  });
  const writes: Uint8Array[] = [];
  const write = socket.write.bind(socket);
  socket.write = ((data: Uint8Array) => {
    writes.push(data);
    return write(data);
  }) as typeof socket.write;
  const received = async (length = 0) => {
    while (Buffer.concat(chunks).length < length) await new Promise((r) => setTimeout(r, 5));
    return Buffer.concat(chunks);
  };
  return { socket, writes, received: () => received(writes.reduce((n, w) => n + w.length, 0)) };
}

describe('WriteBatch', () => {
  it('the parts pushed in one turn leave as one socket.write at its end, in order', async () => {
    const { socket, writes, received } = await pair();
    const batch = new WriteBatch(socket);
    for (let i = 0; i < 100; i++) batch.push(Uint8Array.of(i));
    expect(batch.bytes).toBe(100);
    expect(writes).toHaveLength(0);
    await new Promise((r) => process.nextTick(r));
    expect(writes).toHaveLength(1);
    expect(batch.bytes).toBe(0);
    expect([...(await received())]).toEqual([...Array(100).keys()]);
  });

  it('held parts (schedule false) wait for flush(); unshift puts a part first; a lone part is written as is', async () => {
    const { socket, writes, received } = await pair();
    const batch = new WriteBatch(socket);
    batch.push(Uint8Array.of(2), false);
    batch.push(Uint8Array.of(3), false);
    await new Promise((r) => setTimeout(r, 10));
    expect(writes).toHaveLength(0);
    batch.unshift(Uint8Array.of(1));
    batch.flush();
    const lone = Uint8Array.of(4);
    batch.push(lone);
    await new Promise((r) => process.nextTick(r));
    expect(writes).toHaveLength(2);
    expect(writes[1]).toBe(lone);
    expect([...(await received())]).toEqual([1, 2, 3, 4]);
  });

  it('clear() drops what is queued; nothing is written to a destroyed socket', async () => {
    const { socket, writes } = await pair();
    const batch = new WriteBatch(socket);
    batch.push(Uint8Array.of(1));
    batch.clear();
    expect(batch.bytes).toBe(0);
    await new Promise((r) => process.nextTick(r));
    expect(writes).toHaveLength(0);
    batch.push(Uint8Array.of(2));
    socket.destroy();
    await new Promise((r) => process.nextTick(r));
    expect(writes).toHaveLength(0);
  });
});
