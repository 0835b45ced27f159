/**
 * The `lrc` machine with its device I/O (`lrcLogic`, what the facades run, one lifecycle per call): the machine's
 * I/O actions implemented by the device's LRC session (`session.ts`), each finding the call's session call from the
 * lifecycle's owner (the compiled runner's facade) or, for an XState actor, a WeakMap entry closed with the actor.
 */
import { type LrcContext, lrcMachine } from '../../../../machines/tango/lrc.js';
import { lrcAttributesFor } from '../wire.js';
import { type LrcCall, type LrcCallTarget, LrcDeviceSession } from './session.js';

/**
 * A call's lifecycle owner that keeps the call's session call itself (the LRC facade on the compiled runner,
 * whose `self` is the lifecycle and `self.owner` the facade): no WeakMap entry, and the owner closes the call
 * when its lifecycle ends, however it ends.
 */
export interface LrcCallHolder {
  lrcCall: LrcCall | undefined;
}

/** The session's call of each XState `lrc` actor (made by its first I/O action, closed by `release` or its end). */
const callsOf = new WeakMap<object, LrcCall>();

/** An actor's end, when it can be observed (XState actors: `subscribe`); a lifecycle's owner (`LrcCallHolder`). */
interface Observable {
  subscribe?(observer: { complete?: () => void; error?: (err: unknown) => void }): unknown;
  owner?: unknown;
}

function holderOf(self: Observable): LrcCallHolder | undefined {
  const owner = self.owner as LrcCallHolder | undefined;
  return owner !== null && typeof owner === 'object' && 'lrcCall' in owner ? owner : undefined;
}

function openCall(context: LrcContext, self: LrcCallTarget): LrcCall {
  return LrcDeviceSession.of(context.device).open(self, {
    command: context.command,
    args: context.args,
    parity: context.parity,
    cacheNegotiation: context.cacheNegotiation,
  });
}

function callOf(context: LrcContext, self: LrcCallTarget & Observable): LrcCall {
  const holder = holderOf(self);
  if (holder) {
    holder.lrcCall ??= openCall(context, self);
    return holder.lrcCall;
  }
  let call = callsOf.get(self);
  if (!call) {
    call = openCall(context, self);
    callsOf.set(self, call);
    // an actor stopped from outside runs no exit action: its end still closes the call
    const opened = call;
    self.subscribe?.({ complete: () => opened.close(), error: () => opened.close() });
  }
  return call;
}

type IoArgs = { context: LrcContext; self: LrcCallTarget & Observable };

/** The `lrc` machine's device I/O actions, implemented by the device's session. */
export const lrcIoActions = {
  negotiate: ({ context, self }: IoArgs) => callOf(context, self).negotiate(),
  connect: ({ context, self }: IoArgs) =>
    callOf(context, self).connect(lrcAttributesFor(context.protocolVersion!)),
  invoke: ({ context, self }: IoArgs) => callOf(context, self).invoke(),
  checkStatus: ({ context, self }: IoArgs) => callOf(context, self).checkStatus(context.commandId!),
  readResult: ({ context, self }: IoArgs) => callOf(context, self).readResult(),
  release: ({ self }: IoArgs) => (holderOf(self)?.lrcCall ?? callsOf.get(self))?.close(),
};

/** The `lrc` machine with its device I/O: what the facades spawn, one actor per call. */
export const lrcLogic = lrcMachine.provide({ actions: lrcIoActions });
