/**
 * A raw TCP echo server for the KATCP bench's ceiling row: the sequential round-trip rate of bare Node sockets
 * between two processes on this machine, which no request/reply protocol can beat. Prints `PORT <n>`.
 */
import { createServer } from 'node:net';

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => socket.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`PORT ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
