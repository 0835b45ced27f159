/**
 * A DevicePort that replays recorded LRC traffic (test/tango/fixtures/lrc_v1_trace.json): the attribute list, the values
 * read at subscription (delivered as first events, as Tango does), the command's reply, then `play()` pushes the
 * recorded change events in order and keeps the attribute values in step for reads.
 */
import type { AttributeEvent, DevicePort, Unsubscribe } from '../../../src/protocols/tango/port.js';

export interface LrcTrace {
  device: string;
  attributes: string[];
  initial: Record<string, unknown>;
  reply: unknown;
  events: AttributeEvent[];
}

export function replayPort(trace: LrcTrace) {
  const values = new Map<string, unknown>(Object.entries(trace.initial));
  const subscribers = new Map<string, Set<(e: AttributeEvent) => void>>();
  const port = {
    name: trace.device,
    open: 0,
    async attributeList() {
      return trace.attributes;
    },
    async readAttribute(attribute: string) {
      return values.get(attribute);
    },
    async commandInout() {
      return trace.reply;
    },
    async subscribeChangeEvent(attribute: string, cb: (e: AttributeEvent) => void): Promise<Unsubscribe> {
      let set = subscribers.get(attribute);
      if (!set) {
        set = new Set();
        subscribers.set(attribute, set);
      }
      set.add(cb);
      port.open++;
      cb({ attribute, value: values.get(attribute) });
      return () => {
        if (set.delete(cb)) port.open--;
      };
    },
    /** Push every recorded event, in order. */
    play() {
      for (const e of trace.events) {
        values.set(e.attribute, e.value);
        for (const cb of [...(subscribers.get(e.attribute) ?? [])]) cb(e);
      }
    },
  } satisfies DevicePort & Record<string, unknown>;
  return port;
}
