"""Prometheus metrics from any BPF object's maps, with no per-program configuration:
the maps' BTF says what their keys and values are (``pip install bcc-core[export]``).

    from bcc_core.export import serve
    b = BPF(src_file="tool.bpf.o")
    serve(b, port=9435)                       # http://HOST:9435/metrics

    bcc-core export --port 9435 tool.bpf.o    # the same, for an object's own programs
    bcc-core export --port 9435 script.py ARGS   # a BCC script's BPF objects, as it runs

What each map becomes (names ``bpf_<map>[_<field>]``):

* a histogram -- BCC's ``BPF_HISTOGRAM`` shape: an array whose key is the bucket slot,
  or a hash whose key is a struct with a ``slot`` member (the other members labels) --
  becomes a Prometheus histogram.  Slots are log2 buckets as BCC's
  ``print_log2_hist`` reads them (slot i counts values in [2^(i-1), 2^i - 1]: bucket
  ``le=2^i - 1``), or linear ones (``histograms={"map": "linear"}``: slot i holds value
  i).  ``_sum`` estimates each bucket's values as its middle (the map has counts only).
* any other hash, array or per-CPU map with numeric values: one metric per numeric value
  field (the value itself when it is a number), one label per key field (``key`` for a
  scalar key); per-CPU values are summed.  A value field named like a count
  (``count``, ``cnt``, ``calls``, ``bytes``, ``pkts``, ``packets``, ``total``...) is
  a counter, others are gauges.  Key fields that hold kernel or user stack ids
  (``*stack_id``, ``*stackid``) are decoded to the stack's function names through the
  object's stack trace map, and fields named ``ip``/``kernel_ip`` to kernel symbols.
* perf and ring buffers, program arrays, stack traces and the object's own sections
  (``.rodata``, ``.bss``...) are not metrics.

``labels={"map": {"field": decoder}}`` decodes a label value as ebpf_exporter's decoders
do: a dict (static map), a callable, or ``"cgroup"`` (a cgroup id -> its path).

Each scrape reads each map once (one snapshot), so a histogram's buckets, count and sum
agree with each other.
"""
import os
import re

_COUNTER = re.compile(r"(^|_)(count|counts|cnt|calls|bytes|pkts|packets|total|hits|"
                      r"events|errors|drops|misses)$", re.I)
_STACK = re.compile(r"stack_?id$", re.I)
_PERCPU = {5, 6, 10}
_HASH_OR_ARRAY = {1, 2, 5, 6, 9, 10}       # hash, array, per-CPU and LRU kinds


def _metric_name(*parts):
    return re.sub(r"[^a-zA-Z0-9_]", "_", "_".join(p for p in parts if p))


def _flatten(prefix, v, out):
    """Numeric leaves of a decoded value: [(name suffix, number)]."""
    if isinstance(v, bool):
        out.append((prefix, int(v)))
    elif isinstance(v, (int, float)):
        out.append((prefix, v))
    elif isinstance(v, dict):
        for k, x in v.items():
            _flatten(prefix + "_" + k if prefix else k, x, out)
    return out


def _sum_cpus(vals):
    """Per-CPU values summed: numbers added, structs field by field."""
    if vals and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vals):
        return sum(vals)
    if vals and all(isinstance(x, dict) for x in vals):
        return {k: _sum_cpus([x[k] for x in vals]) for k in vals[0]}
    return vals[0] if vals else 0


def _cgroup_paths():
    """cgroup id (inode number) -> path under the cgroup2 mount."""
    root = next((line.split()[1] for line in open("/proc/mounts")
                 if line.split()[2:3] == ["cgroup2"]), None)
    out = {}
    if root:
        for d, _, _ in os.walk(root):
            try:
                out[os.stat(d).st_ino] = d[len(root):] or "/"
            except OSError:
                pass
    return out


class MapCollector:
    """A prometheus_client collector of a BPF object's maps (see the module's text)."""

    def __init__(self, bpf, histograms=None, labels=None, prefix="bpf"):
        self.b = bpf
        self.histograms = dict(histograms or {})
        self.labels = dict(labels or {})
        self.prefix = prefix
        self._cgroups = None

    # -- what a map is ------------------------------------------------------------
    def maps(self):
        for name, m in self.b._obj.maps.items():
            if name.startswith(".") or m.type not in _HASH_OR_ARRAY:
                continue
            yield name, m

    def _is_histogram(self, name, m, entries):
        kind = self.histograms.get(name)
        if kind is not None:
            return kind
        if not entries:
            return None
        k = entries[0]["key"]
        if m.type in (2, 6) and isinstance(k, int) and re.search(r"hist|dist|lat", name):
            return "log2"
        if isinstance(k, dict) and "slot" in k and isinstance(k["slot"], int):
            return "log2"
        return None

    # -- labels --------------------------------------------------------------------
    def _label(self, mname, field, v):
        dec = self.labels.get(mname, {}).get(field)
        if dec is not None:
            if dec == "cgroup":
                if self._cgroups is None or v not in self._cgroups:
                    self._cgroups = _cgroup_paths()
                return self._cgroups.get(v, str(v))
            if isinstance(dec, dict):
                return str(dec.get(v, v))
            return str(dec(v))
        if isinstance(v, int) and _STACK.search(field):
            return self._stack(v)
        if isinstance(v, int) and field in ("ip", "kernel_ip", "kip"):
            try:
                return self.b.ksym(v).decode("utf-8", "replace")
            except Exception:
                return hex(v)
        if isinstance(v, (list, dict)):
            return str(v)
        return str(v)

    def _stack(self, sid):
        """A stack id as its frames' function names, innermost first (';'-joined)."""
        if sid < 0:
            return ""
        for name, m in self.b._obj.maps.items():
            if m.type == 7:                      # BPF_MAP_TYPE_STACK_TRACE
                try:
                    ips = self.b[name].walk(sid)
                    return ";".join(self.b.ksym(ip).decode("utf-8", "replace")
                                    if ip >= 1 << 63 else hex(ip) for ip in ips)
                except Exception:
                    continue
        return str(sid)

    def _key_labels(self, mname, key, skip=()):
        if isinstance(key, dict):
            return {f: self._label(mname, f, v) for f, v in key.items() if f not in skip}
        return {"key": self._label(mname, "key", key)}

    # -- the families -----------------------------------------------------------------
    def collect(self):
        from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily)
        for name, m in self.maps():
            entries = self.b[name].items_dicts()           # one snapshot per scrape
            if m.type in _PERCPU:
                for e in entries:
                    e["value"] = _sum_cpus(e["value"])
            hist = self._is_histogram(name, m, entries)
            if hist:
                yield from self._histogram(name, entries, hist, HistogramMetricFamily)
                continue
            families = {}
            for e in entries:
                labels = self._key_labels(name, e["key"])
                for suffix, v in _flatten("", e["value"], []):
                    mname = _metric_name(self.prefix, name, suffix)
                    fam = families.get(mname)
                    if fam is None:
                        counter = bool(_COUNTER.search(suffix or name))
                        cls = CounterMetricFamily if counter else GaugeMetricFamily
                        fam = families[mname] = cls(
                            mname, "BPF map %s%s (bcc-core)" % (
                                name, " value field " + suffix if suffix else ""),
                            labels=sorted(labels))
                    fam.add_metric([labels[k] for k in sorted(labels)], v)
            yield from families.values()

    def _histogram(self, name, entries, kind, family):
        groups = {}
        for e in entries:
            key = e["key"]
            slot = key["slot"] if isinstance(key, dict) else key
            labels = self._key_labels(name, key, skip=("slot",)) if isinstance(key, dict) \
                else {}
            g = groups.setdefault(tuple(sorted(labels.items())), {})
            if isinstance(e["value"], (int, float)) and e["value"]:
                g[slot] = g.get(slot, 0) + e["value"]
        labelnames = sorted({k for g in groups for k, _ in g})
        fam = family(_metric_name(self.prefix, name),
                     "BPF histogram %s (%s buckets, bcc-core)" % (name, kind),
                     labels=labelnames)
        for labels, slots in sorted(groups.items()):
            buckets, total, est = [], 0, 0.0
            top = max(slots) if slots else 0
            for i in range(0, top + 1):
                c = slots.get(i, 0)
                total += c
                if kind == "log2":
                    lo, hi = (1 << i) >> 1, (1 << i) - 1
                else:
                    lo = hi = i
                est += c * (lo + hi) / 2.0
                buckets.append((str(hi), total))
            buckets.append(("+Inf", total))
            d = dict(labels)
            fam.add_metric([d.get(k, "") for k in labelnames], buckets, est)
        yield fam


def serve(bpf, port=9435, addr="127.0.0.1", histograms=None, labels=None, registry=None):
    """Publish ``bpf``'s maps on http://ADDR:PORT/metrics (a background thread).
    Returns (server, thread, registry); ``server.shutdown()`` stops it."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        from .errors import NotSupportedError
        raise NotSupportedError("the Prometheus exporter needs prometheus_client: "
                                "pip install 'bcc-core[export]'") from None
    registry = registry or CollectorRegistry()
    registry.register(MapCollector(bpf, histograms, labels))
    server, thread = start_http_server(port, addr=addr, registry=registry)
    return server, thread, registry


class ScriptCollector:
    """The maps of every BPF object a script creates, while it lives (names
    ``bpf_<map>``, ``bpf1_<map>`` for a second object...)."""

    def __init__(self):
        self.objects = []

    def track(self):
        """From now on, every BPF() made is collected."""
        import weakref
        from .bpf import BPF
        orig = BPF.__init__
        objects = self.objects

        def __init__(self_, *a, **kw):
            orig(self_, *a, **kw)
            objects.append(weakref.ref(self_))
        BPF.__init__ = __init__

    def collect(self):
        n = 0
        for ref in list(self.objects):
            b = ref()
            if b is None or b._cleaned or b._obj is None:
                continue
            yield from MapCollector(b, prefix="bpf%s" % (n or "")).collect()
            n += 1


def _is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def run_script(script, argv=(), port=9435, addr="127.0.0.1"):
    """``bcc-core export SCRIPT [ARGS]``: run a BCC script (Python, as ``python3
    SCRIPT ARGS``) and serve the maps of the BPF objects it makes while it runs."""
    import runpy
    import sys
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        from .errors import NotSupportedError
        raise NotSupportedError("the Prometheus exporter needs prometheus_client: "
                                "pip install 'bcc-core[export]'") from None
    col = ScriptCollector()
    col.track()
    registry = CollectorRegistry()
    registry.register(col)
    server, _ = start_http_server(port, addr=addr, registry=registry)
    sys.stderr.write("bcc-core export: %s on http://%s:%d/metrics\n"
                     % (script, addr, server.server_address[1]))
    sys.stderr.flush()
    sys.argv = [script] + list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


def main(obj, port=9435, addr="127.0.0.1", argv=()):
    """``bcc-core export OBJECT``: load and attach the object's programs, serve its
    maps until Ctrl-C or SIGTERM; ``bcc-core export SCRIPT [ARGS]``: see run_script."""
    import time
    if not _is_elf(obj):
        return run_script(obj, argv, port, addr)
    from . import BPF
    from .utils import sigterm_exits
    b = BPF(src_file=obj)
    server, _, _ = serve(b, port, addr)
    sigterm_exits()
    print("bcc-core export: %s on http://%s:%d/metrics" % (obj, addr,
                                                             server.server_address[1]),
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        b.cleanup()
    return 0
