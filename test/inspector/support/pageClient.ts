/** A test stand-in for the inspector page: a WebSocket client that keeps every message and waits for one. */
import WebSocket from 'ws';

export type Msg = { type: string; [k: string]: any };

export interface PageClient {
  ws: WebSocket;
  messages: Msg[];
  raw: string[];
  /** The first message (already received or still to come) that matches; throws after `timeoutMs`. */
  next(pred: (m: Msg) => boolean, timeoutMs?: number): Promise<Msg>;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Connect to `<url>ws`; the socket is pushed onto `sockets` so the test's cleanup closes it. */
export function connectPage(
  url: string,
  sockets: WebSocket[],
  opts: WebSocket.ClientOptions & { origin?: string } = {},
): PageClient {
  const ws = new WebSocket(`${url.replace('http', 'ws')}ws`, opts);
  sockets.push(ws);
  const messages: Msg[] = [];
  const raw: string[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    raw.push(String(data));
    messages.push(JSON.parse(String(data)));
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (m: Msg) => boolean, timeoutMs = 10_000): Promise<Msg> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find(pred);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching message; got ${messages.map((m) => m.type).join(',')}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return { ws, messages, raw, next, opened, closed };
}
