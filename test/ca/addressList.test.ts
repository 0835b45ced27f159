/** EPICS address lists and the CA environment (issue 11 item 2: EPICS_CA_ADDR_LIST, AUTO_ADDR_LIST, ports). */
import { describe, expect, it } from 'vitest';
import {
  clientConfigFromEnv,
  envFlag,
  parseAddressList,
  parseNameServers,
  serverConfigFromEnv,
} from '../../src/protocols/ca/addressList.js';
import { CaValueError } from '../../src/protocols/ca/errors.js';

describe('issue 11 item 2: EPICS address lists and environment', () => {
  it('parseAddressList: whitespace-separated host and host:port entries, the default port otherwise', () => {
    expect(parseAddressList(' 127.0.0.1\t10.0.0.2:5070 \n ioc.example ', 5064)).toEqual([
      { host: '127.0.0.1', port: 5064 },
      { host: '10.0.0.2', port: 5070 },
      { host: 'ioc.example', port: 5064 },
    ]);
    expect(parseAddressList(undefined, 5064)).toEqual([]);
    for (const bad of ['h:', ':5064', 'h:0', 'h:65536', 'h:x'])
      expect(() => parseAddressList(bad, 5064, 'EPICS_CA_ADDR_LIST')).toThrow(CaValueError);
  });

  it('envFlag: only NO/no/false/0 are false; unset or blank gives the fallback', () => {
    expect(['NO', 'no', 'False', '0'].map((v) => envFlag(v, true))).toEqual([false, false, false, false]);
    expect(['YES', 'yes', '1', 'anything'].map((v) => envFlag(v, false))).toEqual([true, true, true, true]);
    expect([envFlag(undefined, true), envFlag(' ', false)]).toEqual([true, false]);
  });

  it('clientConfigFromEnv: libca defaults, AUTO adds the broadcast, AUTO=NO with no list searches nowhere', () => {
    const defaults = clientConfigFromEnv({});
    expect(defaults).toEqual({
      searchAddresses: [{ host: '255.255.255.255', port: 5064 }],
      autoAddressList: true,
      nameServers: [],
      serverPort: 5064,
      repeaterPort: 5065,
      connectionTimeoutMs: 30_000,
      timeoutMs: 2000,
    });
    expect(clientConfigFromEnv({ EPICS_CA_AUTO_ADDR_LIST: 'NO' }).searchAddresses).toEqual([]);
    const env = {
      EPICS_CA_ADDR_LIST: '127.0.0.1 127.0.0.1:5070',
      EPICS_CA_AUTO_ADDR_LIST: 'NO',
      EPICS_CA_SERVER_PORT: '6000',
      EPICS_CA_CONN_TMO: '2.5',
      CAPROTO_DEFAULT_TIMEOUT: '1',
    };
    expect(clientConfigFromEnv(env)).toMatchObject({
      searchAddresses: [
        { host: '127.0.0.1', port: 6000 },
        { host: '127.0.0.1', port: 5070 },
      ],
      serverPort: 6000,
      connectionTimeoutMs: 2500,
      timeoutMs: 1000,
    });
    expect(() => clientConfigFromEnv({ EPICS_CA_SERVER_PORT: 'x' })).toThrow(/EPICS_CA_SERVER_PORT/);
    expect(() => clientConfigFromEnv({ EPICS_CA_CONN_TMO: '-1' })).toThrow(/EPICS_CA_CONN_TMO/);
  });

  it('issue 11 item 2: parseNameServers: host[:port] (default port), duplicates dropped, no broadcast', () => {
    expect(parseNameServers(undefined, 5064)).toEqual([]);
    expect(parseNameServers(' gw.example  127.0.0.1:5070\t127.0.0.1:5070 gw.example:5064 ', 5064)).toEqual([
      { host: 'gw.example', port: 5064 },
      { host: '127.0.0.1', port: 5070 },
    ]);
    expect(() => parseNameServers('255.255.255.255', 5064)).toThrow(CaValueError);
    expect(() => parseNameServers('10.0.0.1 255.255.255.255:5064', 5064)).toThrow(
      /EPICS_CA_NAME_SERVERS: 255\.255\.255\.255 is a broadcast address/,
    );
    expect(() => parseNameServers('h:0', 5064)).toThrow(/EPICS_CA_NAME_SERVERS: bad entry/);
  });

  it('issue 11 item 2: clientConfigFromEnv: EPICS_CA_NAME_SERVERS, the nameServers option replaces it', () => {
    const env = { EPICS_CA_NAME_SERVERS: '127.0.0.1 10.0.0.2:5080', EPICS_CA_SERVER_PORT: '6000' };
    expect(clientConfigFromEnv(env).nameServers).toEqual([
      { host: '127.0.0.1', port: 6000 },
      { host: '10.0.0.2', port: 5080 },
    ]);
    expect(clientConfigFromEnv(env, { serverPort: 7000 }).nameServers).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 5080 },
    ]);
    expect(clientConfigFromEnv(env, { nameServers: ['gw'] }).nameServers).toEqual([
      { host: 'gw', port: 6000 },
    ]);
    expect(clientConfigFromEnv(env, { nameServers: [] }).nameServers).toEqual([]);
    expect(() => clientConfigFromEnv({}, { nameServers: ['255.255.255.255'] })).toThrow(/nameServers/);
    // the environment is still checked where the option replaces it
    expect(() => clientConfigFromEnv({ EPICS_CA_NAME_SERVERS: 'h:x' }, { nameServers: [] })).toThrow(
      /EPICS_CA_NAME_SERVERS/,
    );
  });

  it('clientConfigFromEnv overrides: each replaces its variable; the environment is still checked', () => {
    const env = { EPICS_CA_ADDR_LIST: '10.0.0.1', EPICS_CA_AUTO_ADDR_LIST: 'NO' };
    expect(clientConfigFromEnv(env, { serverPort: 7000 }).searchAddresses).toEqual([
      { host: '10.0.0.1', port: 7000 },
    ]);
    expect(clientConfigFromEnv(env, { addressList: ['127.0.0.1:5099'] }).searchAddresses).toEqual([
      { host: '127.0.0.1', port: 5099 },
    ]);
    expect(clientConfigFromEnv(env, { autoAddressList: true, repeaterPort: 6065 })).toMatchObject({
      searchAddresses: [
        { host: '10.0.0.1', port: 5064 },
        { host: '255.255.255.255', port: 5064 },
      ],
      repeaterPort: 6065,
    });
    expect(() => clientConfigFromEnv({}, { addressList: ['h:x'] })).toThrow(/addressList/);
    expect(() => clientConfigFromEnv({ EPICS_CA_SERVER_PORT: 'x' }, { serverPort: 5064 })).toThrow(
      /EPICS_CA_SERVER_PORT/,
    );
  });

  it('serverConfigFromEnv: interfaces, CAS port before CA port, beacon list (+auto), ignore list', () => {
    expect(serverConfigFromEnv({})).toEqual({
      interfaces: undefined,
      port: 5064,
      beaconAddresses: [{ host: '255.255.255.255', port: 5065 }],
      beaconPeriodMs: 15_000,
      ignoreAddresses: [],
    });
    expect(
      serverConfigFromEnv({
        EPICS_CAS_INTF_ADDR_LIST: '127.0.0.1',
        EPICS_CA_SERVER_PORT: '6000',
        EPICS_CAS_SERVER_PORT: '6001',
        EPICS_CAS_BEACON_ADDR_LIST: '127.0.0.1 127.0.0.2:7000',
        EPICS_CAS_AUTO_BEACON_ADDR_LIST: 'NO',
        EPICS_CAS_BEACON_PORT: '6065',
        EPICS_CAS_BEACON_PERIOD: '2',
        EPICS_CAS_IGNORE_ADDR_LIST: '10.0.0.9',
      }),
    ).toEqual({
      interfaces: ['127.0.0.1'],
      port: 6001,
      beaconAddresses: [
        { host: '127.0.0.1', port: 6065 },
        { host: '127.0.0.2', port: 7000 },
      ],
      beaconPeriodMs: 2000,
      ignoreAddresses: ['10.0.0.9'],
    });
  });
});
