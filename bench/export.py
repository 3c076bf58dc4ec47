"""Scrape cost of the Prometheus exporter (bcc_core.export): a 10k-entry hash with a
struct key (two labels) and a struct value (two metrics), and a 10k-entry log2
histogram keyed by (pid, slot); each scrape reads each map once.  Prints the median of
5 scrapes over loopback (HTTP, text format) and of the collection alone.

    sudo python3 bench/export.py [--entries N]
"""
import argparse
import ctypes as ct
import statistics
import sys
import time
import urllib.request

PROG = r"""
struct k { u32 pid; u32 cpu; };
struct v { u64 count; u64 bytes; };
BPF_HASH(flows, struct k, struct v, 20000);
struct h { u32 pid; u64 slot; };
BPF_HISTOGRAM(lat, struct h, 20000);
int f(void *ctx) { return 0; }
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=10000)
    a = ap.parse_args()
    from bcc_core import BPF
    from bcc_core.export import MapCollector, serve
    b = BPF(text=PROG)
    flows, lat = b["flows"], b["lat"]
    for i in range(a.entries):
        k = flows.Key(i, i % 2)
        flows[k] = flows.Leaf(i, i * 100)
        lat[lat.Key(i // 20, i % 20)] = ct.c_ulonglong(i)
    server, _, _ = serve(b, port=0)
    url = "http://127.0.0.1:%d/metrics" % server.server_address[1]
    scrape, collect, size = [], [], 0
    col = MapCollector(b)
    for _ in range(5):
        t0 = time.perf_counter()
        body = urllib.request.urlopen(url, timeout=60).read()
        scrape.append(time.perf_counter() - t0)
        size = len(body)
        t0 = time.perf_counter()
        list(col.collect())
        collect.append(time.perf_counter() - t0)
    server.shutdown()
    b.cleanup()
    print("exporter: %d-entry hash (2 labels, 2 values) + %d-entry histogram (%d series)"
          % (a.entries, a.entries, a.entries // 20))
    print("  scrape over HTTP  %.0f ms median of 5 (%d KiB of text)"
          % (statistics.median(scrape) * 1e3, size // 1024))
    print("  collection alone  %.0f ms median of 5" % (statistics.median(collect) * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
