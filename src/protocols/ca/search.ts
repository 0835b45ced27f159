/** SearchEngine: stub with the contract's signatures (the real one lands next). */
import type { Clock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import type { CaAddress, CaClientConfig } from './addressList.js';

export interface SearchResult {
  cid: number;
  name: string;
  address: CaAddress;
  minorVersion: number;
}
export interface SearchEngineOptions {
  config: CaClientConfig;
  clock: Clock;
  logger?: Logger;
}
export class SearchEngine {
  readonly stats = { unanswered: 0, retired: 0, intervalMs: 30, datagramsSent: 0 };
  constructor(_options: SearchEngineOptions) {}
  async start(): Promise<void> {}
  add(_cid: number, _name: string): void {}
  remove(_cid: number): void {}
  onResult(_listener: (result: SearchResult) => void): () => void {
    return () => {};
  }
  onNewServer(_listener: (address: CaAddress) => void): () => void {
    return () => {};
  }
  close(): void {}
}
