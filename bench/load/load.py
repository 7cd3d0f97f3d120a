#!/usr/bin/env python3
"""Load client for bench/load.sh: plain asyncio HTTP/1.1 (standard library only, one connection
per request, as impatient clients are), against a running `gengxin serve`.

    load.py evaluate URL TOKEN PID N        N concurrent POST /api/life-circle/evaluate, then
                                            poll the job(s) until done; prints JSON
    load.py heavy URL PID CLIENTS SECONDS   CLIENTS loop a heavy CQL2 query for SECONDS while a
                                            prober in its own process GETs /api/health and the
                                            heavy query every 50 ms (latencies of an idle client
                                            under the load); prints JSON

PID is the server's process: its peak RSS (VmHWM) is read from /proc. This is a benchmark:
it prints what it measured and never fails because the server is slow.
"""

import asyncio
import json
import sys
import time
import urllib.parse as up


async def http(url, method="GET", token=None, body=b"", timeout=120.0):
    """(status, headers, body bytes, seconds)."""
    u = up.urlsplit(url)
    t0 = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(u.hostname, u.port), timeout)
    try:
        path = u.path + (f"?{u.query}" if u.query else "")
        head = [f"{method} {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Connection: close",
                f"Content-Length: {len(body)}", "Accept: application/json"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    dt = time.perf_counter() - t0
    header, _, payload = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", payload
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        payload = out
    return status, headers, payload, dt


def vm_hwm_mb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def evaluate(url, token, pid, n):
    before = vm_hwm_mb(pid)
    t0 = time.perf_counter()
    answers = await asyncio.gather(*[http(f"{url}/api/life-circle/evaluate", "POST", token) for _ in range(n)],
                                   return_exceptions=True)
    ok = [a for a in answers if not isinstance(a, Exception)]
    statuses = {}
    for a in ok:
        statuses[a[0]] = statuses.get(a[0], 0) + 1
    ids = sorted({json.loads(a[2])["id"] for a in ok if a[0] == 202})
    posts_s = time.perf_counter() - t0
    final = {}
    for job in ids:
        while True:
            s, _, b, _ = await http(f"{url}/api/jobs/{up.quote(job)}", token=token)
            j = json.loads(b)
            if j.get("state") in ("done", "failed"):
                final[job] = j
                break
            await asyncio.sleep(0.2)
    total_s = time.perf_counter() - t0
    return {
        "requests": n, "errors": len(answers) - len(ok), "statuses": statuses, "job_ids": ids,
        "jobs": {k: {"state": v["state"], "seconds": (v.get("result") or {}).get("seconds"),
                     "error": v.get("error")} for k, v in final.items()},
        "posts_answered_s": round(posts_s, 3), "all_done_s": round(total_s, 3),
        "post_latency_p99_ms": round(1000 * pct([a[3] for a in ok], 99), 1) if ok else None,
        "vm_hwm_before_mb": before, "vm_hwm_after_mb": vm_hwm_mb(pid),
    }


HEAVY = "buildings", " OR ".join([f"name LIKE '%{c}%'" for c in "楼栋号院区街路村园城"] +
                                  [f"floors = {k}" for k in range(30, 45)])


async def probe(url, q, seconds):
    """Health every 50 ms, and the heavy query every 50 ms: (health latencies, heavy (status,
    latency)). Run in its own process, so the load clients' event loop does not delay it."""
    end = time.perf_counter() + seconds
    health, heavy = [], []

    async def one(u, out):
        while time.perf_counter() < end:
            try:
                s, _, _, dt = await http(u, timeout=60)
                out.append((s, dt))
            except Exception:
                out.append((0, 60.0))
            await asyncio.sleep(0.05)

    await asyncio.gather(one(f"{url}/api/health", health), one(q, heavy))
    return health, heavy


def probe_process(url, q, seconds, queue):
    queue.put(asyncio.run(probe(url, q, seconds)))


async def heavy(url, pid, clients, seconds):
    import multiprocessing as mp
    layer, flt = HEAVY
    q = f"{url}/ogc/collections/{layer}/items?limit=10&filter={up.quote(flt)}"
    end = time.perf_counter() + seconds
    results = []  # (status, seconds, retry-after) seen by the load clients
    queue = mp.Queue()
    prober = mp.Process(target=probe_process, args=(url, q, seconds, queue))
    prober.start()

    async def client():
        while time.perf_counter() < end:
            try:
                s, h, _, dt = await http(q, timeout=60)
                results.append((s, dt, h.get("retry-after")))
                if s == 429:
                    await asyncio.sleep(0.05)  # impatient: retry almost at once, not Retry-After
            except Exception:
                results.append((0, 0.0, None))

    await asyncio.gather(*[client() for _ in range(clients)])
    health, probed = queue.get()
    prober.join()
    ms = lambda x: None if x is None else round(1000 * x, 1)
    by = {}
    for s, _, _ in results:
        by[s] = by.get(s, 0) + 1
    busy = [dt for s, dt in probed if s == 429]
    served = [dt for s, dt, _ in results if s == 200]
    hl = [dt for s, dt in health]
    return {
        "clients": clients, "seconds": seconds, "filter_terms": flt.count(" OR ") + 1,
        "requests": len(results), "statuses": by,
        "share_429": round(sum(1 for s, _, _ in results if s == 429) / max(1, len(results)), 4),
        "retry_after_on_429": sorted({ra for s, _, ra in results if s == 429}),
        "load_clients_p50_429_ms": ms(pct([dt for s, dt, _ in results if s == 429], 50)),
        "probe_429s": len(busy), "probe_p50_429_ms": ms(pct(busy, 50)), "probe_p99_429_ms": ms(pct(busy, 99)),
        "p50_200_ms": ms(pct(served, 50)), "p99_200_ms": ms(pct(served, 99)),
        "health_probes": len(hl), "health_non_200": sum(1 for s, _ in health if s != 200),
        "health_p50_ms": ms(pct(hl, 50)), "health_p99_ms": ms(pct(hl, 99)), "health_max_ms": ms(max(hl) if hl else None),
        "vm_hwm_mb": vm_hwm_mb(pid),
    }


def main():
    what = sys.argv[1]
    if what == "evaluate":
        out = asyncio.run(evaluate(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
    elif what == "heavy":
        out = asyncio.run(heavy(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])))
    else:
        sys.exit(__doc__)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
