"""pyepics (Debian python3-pyepics, libca 7.0.3.1) against Orrery's CA server: issue 11 item 5.

Run by test/ca/pyepics.conformance.test.ts with EPICS_CA_ADDR_LIST=127.0.0.1:<port>, EPICS_CA_AUTO_ADDR_LIST=NO,
EPICS_CA_SERVER_PORT and EPICS_CA_REPEATER_PORT set so nothing leaves loopback. argv[1] is the PV prefix.
Prints one line `RESULT <json>` for the test to assert on; every step is recorded, failures as strings.
"""
import json
import os
import sys
import time
import traceback

import epics

P = sys.argv[1]
TIMEOUT = 10.0
out = {}


def plain(v):
    if hasattr(v, 'tolist'):
        return v.tolist()
    if isinstance(v, bytes):
        return v.decode('latin-1')
    return v


def step(name, fn):
    try:
        out[name] = fn()
    except Exception as e:  # recorded, the test shows it
        out[name] = {'error': '%s: %s' % (type(e).__name__, e), 'trace': traceback.format_exc()}


def gets():
    r = {}
    for n in ['double', 'short', 'float', 'enum', 'long', 'string', 'char']:
        r[n] = plain(epics.caget(P + n, timeout=TIMEOUT))
    r['enum_as_string'] = epics.caget(P + 'enum', as_string=True, timeout=TIMEOUT)
    r['char_as_string'] = epics.caget(P + 'char', as_string=True, timeout=TIMEOUT)
    r['double_as_string'] = epics.caget(P + 'double', as_string=True, timeout=TIMEOUT)
    return r


def arrays():
    r = {}
    for n in ['wave', 'shorts', 'floats', 'longs', 'strings']:
        r[n] = plain(epics.caget(P + n, timeout=TIMEOUT))
    big = epics.caget(P + 'big', timeout=TIMEOUT)
    r['big_len'] = len(big)
    r['big_last'] = float(big[-1])
    r['big_sum'] = float(sum(big))
    return r


def ctrl():
    r = {}
    pv = epics.PV(P + 'double', form='ctrl')
    pv.wait_for_connection(timeout=TIMEOUT)
    pv.get(timeout=TIMEOUT)
    cv = pv.get_ctrlvars(timeout=TIMEOUT)
    r['double'] = {
        'value': pv.value,
        'units': pv.units,
        'precision': pv.precision,
        'upper_ctrl_limit': cv.get('upper_ctrl_limit'),
        'lower_ctrl_limit': cv.get('lower_ctrl_limit'),
        'upper_disp_limit': cv.get('upper_disp_limit'),
        'lower_disp_limit': cv.get('lower_disp_limit'),
        'upper_alarm_limit': cv.get('upper_alarm_limit'),
        'lower_alarm_limit': cv.get('lower_alarm_limit'),
        'upper_warning_limit': cv.get('upper_warning_limit'),
        'lower_warning_limit': cv.get('lower_warning_limit'),
        'type': pv.type,
        'count': pv.count,
        'write_access': pv.write_access,
        'read_access': pv.read_access,
    }
    e = epics.PV(P + 'enum', form='ctrl')
    e.wait_for_connection(timeout=TIMEOUT)
    e.get(timeout=TIMEOUT)
    e.get_ctrlvars(timeout=TIMEOUT)
    r['enum'] = {'value': e.value, 'enum_strs': list(e.enum_strs or []), 'char_value': e.char_value, 'type': e.type}
    lg = epics.PV(P + 'long', form='ctrl')
    lg.wait_for_connection(timeout=TIMEOUT)
    lg.get(timeout=TIMEOUT)
    lcv = lg.get_ctrlvars(timeout=TIMEOUT)
    r['long'] = {'units': lg.units, 'upper_ctrl_limit': lcv.get('upper_ctrl_limit'), 'type': lg.type}
    t = epics.PV(P + 'double', form='time')
    t.wait_for_connection(timeout=TIMEOUT)
    t.get(timeout=TIMEOUT)
    r['timestamp'] = t.timestamp
    r['now'] = time.time()
    return r


def puts():
    r = {}
    r['double_put'] = epics.caput(P + 'double', 7.25, wait=True, timeout=TIMEOUT)
    r['double_after'] = epics.caget(P + 'double', timeout=TIMEOUT)
    r['enum_put'] = epics.caput(P + 'enum', 'fault', wait=True, timeout=TIMEOUT)
    r['enum_after'] = epics.caget(P + 'enum', timeout=TIMEOUT)
    r['string_put'] = epics.caput(P + 'string', 'from pyepics', wait=True, timeout=TIMEOUT)
    r['string_after'] = epics.caget(P + 'string', timeout=TIMEOUT)
    r['wave_put'] = epics.caput(P + 'wave', [9.5, 8.5, 7.5, 6.5], wait=True, timeout=TIMEOUT)
    r['wave_after'] = plain(epics.caget(P + 'wave', timeout=TIMEOUT))
    r['char_put'] = epics.caput(P + 'char', 'pyepics!', wait=True, timeout=TIMEOUT)
    r['char_after'] = epics.caget(P + 'char', as_string=True, timeout=TIMEOUT)
    t0 = time.monotonic()
    r['slow_put'] = epics.caput(P + 'slow', 3.5, wait=True, timeout=TIMEOUT)
    r['slow_elapsed'] = time.monotonic() - t0
    r['slow_after'] = epics.caget(P + 'slow', timeout=TIMEOUT)
    # a put with a completion callback
    done = []
    pv = epics.PV(P + 'slow')
    pv.wait_for_connection(timeout=TIMEOUT)
    pv.put(4.5, callback=lambda **kw: done.append(kw.get('pvname')), use_complete=True)
    deadline = time.monotonic() + TIMEOUT
    while not pv.put_complete and time.monotonic() < deadline:
        time.sleep(0.01)
    r['callback_complete'] = pv.put_complete
    r['callback_called'] = done
    return r


def denied():
    r = {}
    pv = epics.PV(P + 'ro')
    pv.wait_for_connection(timeout=TIMEOUT)
    r['read_access'] = pv.read_access
    r['write_access'] = pv.write_access
    try:
        r['put'] = pv.put(99, wait=True, timeout=TIMEOUT)
    except Exception as e:
        r['put'] = 'raised %s' % type(e).__name__
    r['after'] = epics.caget(P + 'ro', timeout=TIMEOUT)
    return r


def put_and_watch(name, values, deadline):
    """Monitor P+name, wait for its first update, caput each of values; the updates seen once the last one arrived
    (or at deadline)."""
    got = []
    pv = epics.PV(P + name, auto_monitor=True, callback=lambda value=None, **kw: got.append(plain(value)))
    pv.wait_for_connection(timeout=TIMEOUT)
    if deadline is None:
        deadline = time.monotonic() + TIMEOUT
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    for v in values:
        epics.caput(P + name, v, wait=True, timeout=TIMEOUT)
    while (not got or got[-1] != values[-1]) and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = list(got)
    pv.clear_callbacks()
    return seen, deadline


def monitor():
    r = {}
    # one deadline for both: TIMEOUT from the first PV's connection
    r['client_puts'], deadline = put_and_watch('mon', [1, 2, 3, 4, 5], None)
    r['deadband_puts'], _ = put_and_watch('dead', [0.5, 1.5, 2.0, 3.0, 10.0], deadline)
    ticks = []
    tick = epics.PV(P + 'counter', auto_monitor=True, callback=lambda value=None, **kw: ticks.append(plain(value)))
    tick.wait_for_connection(timeout=TIMEOUT)
    while len(ticks) < 6 and time.monotonic() < deadline + TIMEOUT:
        time.sleep(0.01)
    tick.clear_callbacks()
    r['server_ticks'] = list(ticks)
    return r


def missing():
    t0 = time.monotonic()
    v = epics.caget(P + 'does-not-exist', timeout=1.0)
    return {'value': v, 'elapsed': time.monotonic() - t0}


step('gets', gets)
step('arrays', arrays)
step('ctrl', ctrl)
step('puts', puts)
step('denied', denied)
step('monitor', monitor)
step('missing', missing)
sys.stdout.write('RESULT ' + json.dumps(out, default=str) + '\n')
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
