"""The on-disk cache stays bounded (bcc_core.btf.cache): entries unused for too long go,
then the least recently used while it is over its size or entry bound; recent entries
stay; ``bcc-core cache [--clear]``; the directory follows $BCC_CORE_CACHE_DIR and
$XDG_CACHE_HOME."""
import os
import subprocess
import sys
import time

from bcc_core.btf import cache


def _entry(d, name, size, age, now):
    p = os.path.join(d, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(b"x" * size)
    os.utime(p, (now - age, now - age))
    return p


def test_prune_by_age_size_and_count(tmp_path):
    d, now = str(tmp_path), time.time()
    old = _entry(d, "obj-old", 10, 40 * 86400, now)
    a = _entry(d, "core-a", 1000, 3000, now)
    b = _entry(d, "core-b", 1000, 2000, now)
    inc = _entry(d, "compat/include-k1/vmlinux.h", 1000, 1000, now)   # a directory entry
    o = _entry(d, "compat/obj/x.bpf.o", 1000, 500, now)
    fresh = _entry(d, "btf-new.idx", 5000, 1, now)          # just written: never removed
    assert cache.usage(d) == (6, 10 + 4000 + 5000)
    assert cache.prune(max_bytes=1 << 30, max_age=30 * 86400, max_entries=100, d=d,
                       now=now) == (1, 10)
    assert not os.path.exists(old) and os.path.exists(a)
    # over 7000 bytes: the least recently used go until it fits
    assert cache.prune(max_bytes=7000, max_age=30 * 86400, max_entries=100, d=d,
                       now=now) == (2, 2000)
    assert not os.path.exists(a) and not os.path.exists(b)
    assert os.path.exists(inc) and os.path.exists(o) and os.path.exists(fresh)
    assert cache.prune(max_bytes=1 << 30, max_age=30 * 86400, max_entries=2, d=d,
                       now=now) == (1, 1000)
    assert not os.path.exists(os.path.dirname(inc)) and os.path.exists(o)
    # nothing younger than a minute goes, whatever the bound
    assert cache.prune(max_bytes=0, max_age=0, max_entries=0, d=d, now=now)[0] == 1
    assert os.path.exists(fresh)
    assert cache.clear(d) == (1, 5000) and cache.usage(d) == (0, 0)


def test_cache_dir_from_the_environment(monkeypatch, tmp_path):
    for v in ("BCC_CORE_CACHE_DIR", "BCC_CORE_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() == str(tmp_path / ".cache" / "bcc-core")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == str(tmp_path / "xdg" / "bcc-core")
    monkeypatch.setenv("BCC_CORE_CACHE", str(tmp_path / "old"))
    assert cache.cache_dir() == str(tmp_path / "old")
    monkeypatch.setenv("BCC_CORE_CACHE_DIR", str(tmp_path / "new"))
    assert cache.cache_dir() == str(tmp_path / "new")
    monkeypatch.setenv("BCC_CORE_CACHE_MAX", "3M")
    monkeypatch.setenv("BCC_CORE_CACHE_MAX_ENTRIES", "7")
    monkeypatch.setenv("BCC_CORE_CACHE_MAX_AGE", "2")
    assert cache.limits() == (3 << 20, 2 * 86400, 7)


def test_writes_keep_the_cache_bounded(tmp_path, bpf_obj):
    """A process that writes an entry prunes the cache (once): here an object's spec
    is cached in a cache already over its entry bound."""
    obj = bpf_obj("basic")
    d, now = str(tmp_path / "c"), time.time()
    for i in range(30):
        _entry(d, "core-stale%d" % i, 100, 7200 + i, now)
    env = dict(os.environ, BCC_CORE_CACHE_DIR=d, BCC_CORE_CACHE_MAX_ENTRIES="10")
    env.pop("BCC_CORE_CACHE", None)
    subprocess.run([sys.executable, "-c", "import sys\nfrom bcc_core.obj.cache import "
                    "load_spec\nload_spec(sys.argv[1])", obj], env=env, check=True)
    n, _ = cache.usage(d)
    assert n == 10 and any(f.startswith("obj-") for f in os.listdir(d))
    r = subprocess.run([sys.executable, "-m", "bcc_core.cli", "cache"], env=env,
                       capture_output=True, text=True, check=True)
    assert r.stdout.startswith("%s: 10 entries" % d), r.stdout
    r = subprocess.run([sys.executable, "-m", "bcc_core.cli", "cache", "--clear"], env=env,
                       capture_output=True, text=True, check=True)
    assert "removed 10 entries" in r.stdout and cache.usage(d) == (0, 0)
