"""
The pyepics side of `npm run bench -- ca` (issue 11 item 8): the same workloads as Orrery's client, against the
same Orrery CaServer, run with Debian's /usr/bin/python3 and python3-pyepics (libca). The environment (set by
ca.bench.ts) points libca at the server: EPICS_CA_ADDR_LIST=127.0.0.1:<port>, EPICS_CA_AUTO_ADDR_LIST=NO,
EPICS_CA_MAX_ARRAY_BYTES large enough for 800 kB.

  caPeer.py gets PV MS             sequential PV.get(use_monitor=False) for MS ms -> {"count", "seconds"}
  caPeer.py arrays PV COUNT MS     sequential array reads of COUNT elements for MS ms -> {"count", "seconds", "bytes"}
  caPeer.py monitor PV FLOOD N     subscribes to PV, puts N to FLOOD with completion (the server then posts N
                                   values as fast as it can), counts what arrives -> {"posted", "received",
                                   "lost", "seconds"}

One JSON object on stdout; errors as {"error": "..."} with exit code 1.
"""
import json
import sys
import threading
import time

import epics


def fail(text):
    print(json.dumps({"error": text}))
    sys.exit(1)


def connected_pv(name, **kwargs):
    pv = epics.PV(name, auto_monitor=False, **kwargs)
    if not pv.wait_for_connection(timeout=10):
        fail(f"pyepics could not connect to {name}")
    return pv


def gets(name, ms):
    pv = connected_pv(name)
    for _ in range(200):  # warm-up
        pv.get(use_monitor=False)
    n = 0
    t0 = time.perf_counter()
    end = t0 + ms / 1000
    while time.perf_counter() < end:
        for _ in range(100):
            if pv.get(use_monitor=False) is None:
                fail(f"a read of {name} timed out")
        n += 100
    return {"count": n, "seconds": time.perf_counter() - t0}


def arrays(name, count, ms):
    pv = connected_pv(name)
    first = pv.get(use_monitor=False, count=count, as_numpy=True, timeout=10)
    if first is None or len(first) != count:
        fail(f"an array read of {name} returned {None if first is None else len(first)} elements")
    n = 0
    t0 = time.perf_counter()
    end = t0 + ms / 1000
    while time.perf_counter() < end:
        for _ in range(10):
            if pv.get(use_monitor=False, count=count, as_numpy=True, timeout=10) is None:
                fail(f"an array read of {name} timed out")
        n += 10
    return {"count": n, "seconds": time.perf_counter() - t0, "bytes": count * 8}


def monitor(name, flood, n):
    values = []
    lock = threading.Lock()
    done = threading.Event()
    state = {"target": None}

    def on_update(value=None, **_kw):
        v = int(value)
        with lock:
            values.append(v)
            if state["target"] is not None and v >= state["target"]:
                done.set()

    pv = epics.PV(name, auto_monitor=True, callback=on_update, form="time")
    if not pv.wait_for_connection(timeout=10):
        fail(f"pyepics could not connect to {name}")
    deadline = time.time() + 10
    while not values and time.time() < deadline:
        time.sleep(0.01)
    if not values:
        fail(f"no first update from {name}")
    with lock:
        start = values[-1]
        values.clear()
        state["target"] = start + n
    flood_pv = connected_pv(flood)
    t0 = time.perf_counter()
    flood_pv.put(n, wait=True, timeout=600)
    # every value is posted once the put completes; wait for the last one, or for 3 s of silence
    last_len = -1
    while not done.wait(3):
        with lock:
            if len(values) == last_len:
                break
            last_len = len(values)
    seconds = time.perf_counter() - t0
    pv.clear_callbacks()
    with lock:
        got = sorted(set(v for v in values if start < v <= start + n))
    return {"posted": n, "received": len(values), "lost": n - len(got), "seconds": seconds}


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    work = argv[1]
    if work == "gets":
        result = gets(argv[2], float(argv[3]))
    elif work == "arrays":
        result = arrays(argv[2], int(argv[3]), float(argv[4]))
    elif work == "monitor":
        result = monitor(argv[2], argv[3], int(argv[4]))
    else:
        fail(f"unknown workload {work}")
    print(json.dumps(result), flush=True)
    epics.ca.finalize_libca()


if __name__ == "__main__":
    main(sys.argv)
