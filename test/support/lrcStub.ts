/**
 * The `lrc` machine with device I/O that does nothing (every I/O action a no-op): a test or benchmark sends it the
 * session's answers itself (NEGOTIATED, SUBSCRIBED, INVOKED, DEVICE_EVENT, ...).
 */
import { lrcMachine } from '../../machines/tango/lrc.js';

const noIo = () => {};

export const lrcStubLogic = lrcMachine.provide({
  actions: {
    negotiate: noIo,
    connect: noIo,
    invoke: noIo,
    checkStatus: noIo,
    readResult: noIo,
    release: noIo,
  },
});
