"""
The PyTango side of `npm run bench -- tango` (issue 12 item 8): the same workloads as Orrery's DeviceProxy,
against the same device server, run with Debian's /usr/bin/python3 and python3-tango (9.3, cppTango + omniORB).

  tangoPeer.py commands DEVICE COMMAND MS   sequential command_inout_raw(COMMAND, 1.5) for MS ms
                                            -> {"count", "seconds", "p50_us", "p99_us"}
  tangoPeer.py reads DEVICE ATTRIBUTE MS    sequential read_attribute(ATTRIBUTE) for MS ms -> same keys
  tangoPeer.py events DEVICE N CHUNK        subscribes to `counter`'s change events, runs PushCounter(CHUNK)
                                            until N were pushed, counts what arrives until the last value (or
                                            3 s of silence) -> {"posted", "received", "lost", "seconds"}

Each latency is one call, timed with perf_counter_ns. One JSON object on stdout; errors as {"error": "..."} with
exit code 1.
"""
import json
import sys
import threading
import time

import tango


def fail(text):
    print(json.dumps({"error": text}))
    sys.exit(1)


def percentile(sorted_ns, q):
    if not sorted_ns:
        return 0.0
    i = min(len(sorted_ns) - 1, int(q * len(sorted_ns)))
    return sorted_ns[i] / 1000.0


def timed(call, ms):
    for _ in range(2000):  # warm-up
        call()
    lat = []
    t0 = time.perf_counter()
    end = t0 + ms / 1000
    clock = time.perf_counter_ns
    while time.perf_counter() < end:
        for _ in range(100):
            a = clock()
            call()
            lat.append(clock() - a)
    seconds = time.perf_counter() - t0
    lat.sort()
    return {"count": len(lat), "seconds": seconds, "p50_us": percentile(lat, 0.5), "p99_us": percentile(lat, 0.99)}


def commands(device, command, ms):
    proxy = tango.DeviceProxy(device)
    return timed(lambda: proxy.command_inout_raw(command, 1.5), ms)


def reads(device, attribute, ms):
    proxy = tango.DeviceProxy(device)
    return timed(lambda: proxy.read_attribute(attribute), ms)


def events(device, n, chunk):
    proxy = tango.DeviceProxy(device)
    state = {"start": None, "received": 0, "last": None, "heard": 0.0, "primed": None}
    seen = bytearray(n + 1)
    done = threading.Event()
    ready = threading.Event()

    def callback(event):
        if event.err or event.attr_value is None:
            return
        v = event.attr_value.value
        state["heard"] = time.perf_counter()
        state["last"] = v
        start = state["start"]
        if start is None:
            ready.set()
            return
        state["received"] += 1
        i = v - start
        if 0 < i <= n:
            seen[i] = 1
        if i >= n:
            done.set()

    sid = proxy.subscribe_event("counter", tango.EventType.CHANGE_EVENT, callback)
    try:
        # one event pushed and awaited first: the ZMQ connection is then surely up (as on Orrery's side)
        deadline = time.perf_counter() + 10
        while state["last"] is None and time.perf_counter() < deadline:
            time.sleep(0.01)
        state["primed"] = state["last"]
        proxy.command_inout("PushCounter", 1)
        if not ready.wait(10):
            fail("no event from counter")
        state["start"] = state["last"]
        t0 = time.perf_counter()
        pushed = 0
        while pushed < n:
            k = min(chunk, n - pushed)
            proxy.command_inout("PushCounter", k)
            pushed += k
        while not done.wait(0.2):
            if time.perf_counter() - state["heard"] >= 3:
                break
        elapsed = (state["heard"] if state["received"] else time.perf_counter()) - t0
        got = sum(seen[1:])
        return {"posted": n, "received": state["received"], "lost": n - got, "seconds": elapsed}
    finally:
        proxy.unsubscribe_event(sid)


def main():
    what = sys.argv[1]
    try:
        if what == "commands":
            result = commands(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        elif what == "reads":
            result = reads(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        elif what == "events":
            result = events(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        else:
            fail(f"unknown workload {what}")
    except tango.DevFailed as e:
        fail(f"DevFailed: {e.args[0].reason}: {e.args[0].desc}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
