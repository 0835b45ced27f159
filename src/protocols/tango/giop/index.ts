// The native Tango codec (GIOP/CDR, Any/TypeCode, IOR/corbaloc, Tango IDL operations): re-exports only.

export * from './any.js';
export * from './anyValue.js';
export * from './attributeConfig.js';
export * from './cdr.js';
export * from './errors.js';
export * from './framer.js';
export * from './giop.js';
export * from './giopEncode.js';
export * from './ior.js';
export * from './operations.js';
export * from './tangoTypes.js';
export * from './typecode.js';
