# The public names here are those of BCC 0.26's bcc.utils (same signatures and results),
# implemented for bcc-core.  The symbol helpers below stand in for libbcc's
# (bcc_procutils_which_so, bcc_resolve_symname, bcc_symcache_*) in pure Python.
"""BCC's ``bcc.utils`` names, plus the symbol resolution the BCC facade needs: kernel
symbols from /proc/kallsyms, user symbols from ELF .symtab/.dynsym (pyelftools), shared
library lookup like BCC's ``find_library`` (``ldconfig -p`` cache, then the usual dirs)."""
import os
import sys


def _cpu_list(path):
    """CPU numbers listed in a sysfs cpu list file such as "0-3,8,10-11"."""
    with open(path) as f:
        text = f.read().strip()
    cpus = []
    for part in filter(None, text.split(",")):
        lo, sep, hi = part.partition("-")
        first = int(lo)
        last = int(hi) if sep else first
        cpus += range(first, last + 1)
    return cpus


def get_online_cpus():
    """Numbers of the CPUs that are online now."""
    return _cpu_list("/sys/devices/system/cpu/online")


def get_possible_cpus():
    """Numbers of every CPU the kernel could bring online (per-CPU map slots)."""
    return _cpu_list("/sys/devices/system/cpu/possible")


def detect_language(candidates, pid):
    """Like BCC's (which asks libbcc): guess the language of process pid from its
    executable name and mapped libraries."""
    lang = None
    try:
        exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        exe = ""
    for name in ("java", "node", "perl", "php", "python", "ruby"):
        if exe.startswith(name):
            lang = name
            break
    if lang is None:
        try:
            with open("/proc/%d/maps" % pid) as f:
                maps = f.read()
        except OSError:
            maps = ""
        for name, pat in (("java", "libjvm.so"), ("python", "libpython"), ("ruby", "libruby"),
                          ("php", "libphp"), ("perl", "libperl"), ("node", "libnode")):
            if pat in maps:
                lang = name
                break
    if lang is None:
        lang = "c"
    return lang if lang in candidates else None


FILESYSTEMENCODING = sys.getfilesystemencoding()


def printb(s, file=sys.stdout, nl=1):
    """printb(s)

    Write the bytes ``s`` (plus a newline unless ``nl`` is false) to ``file``'s
    binary side and flush, so that probe data is never decoded on its way out."""
    out = getattr(file, "buffer", file)
    out.write(s + b"\n" if nl else s)
    file.flush()


class ArgString(object):
    """ArgString(arg)

    Wraps a command-line string so that ``bytes(x)`` gives it in the file system's
    encoding: command-line filters are then compared with kernel or probe data as
    bytes, without decoding that data."""

    def __init__(self, arg):
        self.s = arg

    def __bytes__(self):
        return self.s.encode(FILESYSTEMENCODING)

    def __str__(self):
        return self.s


def warn_with_traceback(message, category, filename, lineno, file=None, line=None):
    """A ``warnings.showwarning`` replacement that prints the caller's stack first."""
    import traceback
    import warnings
    text = "".join(traceback.format_stack(sys._getframe(2)))
    text += warnings.formatwarning(message, category, filename, lineno, line)
    (file if hasattr(file, "write") else sys.stderr).write(text)


_strict_bytes = False


def _assert_is_bytes(arg):
    """None and bytes pass unchanged; a str becomes bytes in the file system encoding
    (or, with ``_strict_bytes`` set, anything but bytes fails an assertion)."""
    if arg is None or type(arg) is bytes:
        return arg
    assert not _strict_bytes, "not a bytes object: %r" % arg
    return bytes(ArgString(arg))


def _str(arg):
    """bytes or str -> str (the facade works on str internally)."""
    if isinstance(arg, bytes):
        return arg.decode(FILESYSTEMENCODING, "surrogateescape")
    if isinstance(arg, ArgString):
        return str(arg)
    return arg


_STREQ_TEMPLATE = """
static inline bool {name}(char const *unused, uintptr_t ptr)
{{
    char want[] = {literal};
    char got[sizeof(want)];
    int n;

    {reader}(&got, sizeof(got), (void *)ptr);
    for (n = 0; n + 1 < sizeof(want); n++)
        if (got[n] != want[n])
            return false;
    return true;
}}
"""

# STRCMP("literal", expr): with bin_cmp the captured literal has no quotes
_STRCMP_BARE = r'STRCMP\("([^"]+)",(.+?)\)'
_STRCMP_QUOTED = r'STRCMP\(("[^"]+"),(.+?)\)'


class StrcmpRewrite(object):
    """Turns ``STRCMP("text", expr)`` in a trace/argdist filter into a call of a
    generated ``streq_N`` C helper that reads ``expr`` and compares it with "text"."""

    @staticmethod
    def _generate_streq_function(string, probe_read_func, streq_functions,
                                 probeid):
        name = "streq_%d" % probeid
        code = _STREQ_TEMPLATE.format(name=name, literal=string, reader=probe_read_func)
        return name, streq_functions + code

    @staticmethod
    def rewrite_expr(expr, bin_cmp, is_user, probe_user_list, streq_functions,
                     probeid):
        import re
        pattern = _STRCMP_BARE if bin_cmp else _STRCMP_QUOTED
        for m in re.finditer(pattern, expr):
            user = is_user or m.group(2).strip() in probe_user_list
            reader = "bpf_probe_read_user" if user else "bpf_probe_read"
            name, streq_functions = StrcmpRewrite._generate_streq_function(
                m.group(1), reader, streq_functions, probeid)
            probeid += 1
            expr = expr.replace("STRCMP", name, 1)
        return {"expr": expr, "streq_functions": streq_functions, "probeid": probeid}


# -- kernel symbols ----------------------------------------------------------------------
class KernelSymbols:
    """/proc/kallsyms, sorted by address (read once)."""

    def __init__(self, path="/proc/kallsyms"):
        addrs, names, mods = [], [], []
        by_name = {}
        with open(path, "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                addr = int(parts[0], 16)
                name = parts[2]
                mod = parts[3].strip(b"[]") if len(parts) > 3 else b"kernel"
                if name not in by_name and addr:
                    by_name[name] = addr
                addrs.append(addr)
                names.append(name)
                mods.append(mod)
        order = sorted(range(len(addrs)), key=addrs.__getitem__)
        self.addrs = [addrs[i] for i in order]
        self.names = [names[i] for i in order]
        self.mods = [mods[i] for i in order]
        self.by_name = by_name
        self.usable = any(self.addrs)

    def resolve(self, addr):
        """(name, offset, module) or (None, addr, None)."""
        from bisect import bisect_right
        i = bisect_right(self.addrs, addr) - 1
        if i < 0 or not self.usable or self.addrs[i] == 0:
            return None, addr, None
        return self.names[i], addr - self.addrs[i], self.mods[i]

    def address(self, name):
        return self.by_name.get(name, -1)


_ksyms = []


def kernel_symbols(reload=False):
    if reload or not _ksyms:
        _ksyms[:] = [KernelSymbols()]
    return _ksyms[0]


# -- user symbols ------------------------------------------------------------------------
class ElfSymbols:
    """Function and object symbols of an ELF file (.symtab, else .dynsym), with the
    program headers to turn a virtual address into a file offset."""

    def __init__(self, path):
        from elftools.elf.elffile import ELFFile
        self.path = path
        self.syms = {}            # name -> (vaddr, size)
        self.sorted = []          # [(vaddr, size, name)]
        with open(path, "rb") as f:
            elf = ELFFile(f)
            self.etype = elf.header["e_type"]
            self.loads = [(s["p_vaddr"], s["p_offset"], s["p_filesz"], s["p_memsz"])
                          for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            for secname in (".symtab", ".dynsym"):
                sec = elf.get_section_by_name(secname)
                if sec is None:
                    continue
                for s in sec.iter_symbols():
                    st = s["st_info"]["type"]
                    if st not in ("STT_FUNC", "STT_GNU_IFUNC", "STT_OBJECT") or \
                            not s["st_value"] or s["st_shndx"] == "SHN_UNDEF":
                        continue
                    name = s.name.encode()
                    # strip symbol versions ("memcpy@@GLIBC_2.14")
                    name = name.split(b"@")[0]
                    if name not in self.syms:
                        self.syms[name] = (s["st_value"], s["st_size"])
                    if st != "STT_OBJECT":
                        self.sorted.append((s["st_value"], s["st_size"], name))
        self.sorted.sort()
        self._keys = [s[0] for s in self.sorted]

    def file_offset(self, vaddr):
        for va, off, filesz, memsz in self.loads:
            if va <= vaddr < va + max(filesz, memsz):
                return vaddr - va + off
        return vaddr

    def vaddr_of_offset(self, off):
        for va, poff, filesz, memsz in self.loads:
            if poff <= off < poff + filesz:
                return off - poff + va
        return off

    def resolve(self, vaddr):
        from bisect import bisect_right
        i = bisect_right(self._keys, vaddr) - 1
        while i >= 0:
            a, size, name = self.sorted[i]
            if vaddr < a + max(size, 1) or size == 0:
                return name, vaddr - a
            i -= 1
        return None, vaddr


_elf_cache = {}


def elf_symbols(path):
    try:
        st = os.stat(path)
        key = (path, st.st_ino, st.st_mtime_ns)
    except OSError:
        key = (path,)
    e = _elf_cache.get(key)
    if e is None:
        e = ElfSymbols(path)
        _elf_cache[key] = e
    return e


def _ldconfig_cache():
    import re
    import subprocess
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                             env=dict(os.environ, LC_ALL="C")).stdout
    except OSError:
        try:
            out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True,
                                 text=True).stdout
        except OSError:
            out = ""
    res = []
    for line in out.splitlines()[1:]:
        m = re.match(r"\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)", line)
        if m:
            res.append((m.group(1), m.group(2), m.group(3)))
    return res


_ld = []


def find_library(libname, pid=0):
    """BCC's find_library (bcc_procutils_which_so): "c" or "libc" or "libc.so.6" -> the
    path of the library; a name with a "/" is returned as is.  With a pid, the library
    mapped by that process wins.  Returns bytes, or None."""
    name = _str(libname)
    if "/" in name:
        return name.encode() if os.path.exists(name) else None
    base = name if name.startswith("lib") else "lib" + name
    so = base if ".so" in base else base + ".so"
    if pid:
        try:
            with open("/proc/%d/maps" % pid) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 6 and os.path.basename(parts[5]).startswith(so):
                        return ("/proc/%d/root%s" % (pid, parts[5])).encode()
        except OSError:
            pass
    if not _ld:
        _ld.append(_ldconfig_cache())
    arch = "x86-64" if os.uname().machine == "x86_64" else None
    for soname, flags, path in _ld[0]:
        if soname.startswith(so) and (arch is None or arch in flags or "64" in flags):
            return path.encode()
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
              "/lib", "/usr/lib"):
        try:
            for f in sorted(os.listdir(d)):
                if f.startswith(so):
                    return os.path.join(d, f).encode()
        except OSError:
            pass
    return None


def which(name):
    """A binary by name on $PATH (as BCC's bcc_procutils_which)."""
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d.strip('"'), name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def resolve_module(name, pid=-1):
    """The path of a library or binary as BCC accepts it (full path, "c", "libc"...)."""
    n = _str(name)
    if "/" in n:
        return n if os.path.exists(n) else None
    p = find_library(n, pid if pid and pid > 0 else 0)
    if p:
        return p.decode()
    return which(n)


def resolve_symbol(module, symname, addr=None, pid=-1, sym_off=0):
    """(path, file offset) of symname (or of virtual address addr) in module, as BCC's
    _check_path_symbol: the offset is what uprobes take."""
    path = resolve_module(module, pid)
    if path is None:
        raise Exception("could not find library or binary %s" % _str(module))
    e = elf_symbols(path)
    if symname:
        s = _assert_is_bytes(symname)
        if s not in e.syms:
            raise Exception("could not determine address of symbol %s in %s"
                            % (_str(symname), path))
        vaddr = e.syms[s][0]
    else:
        vaddr = addr or 0
    return path, e.file_offset(vaddr) + sym_off


class ProcessSymbols:
    """Resolve addresses of a process through /proc/PID/maps and the mapped ELF files."""

    def __init__(self, pid):
        self.pid = pid
        self.maps = []
        try:
            with open("/proc/%d/maps" % pid) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 6 or not parts[5].startswith("/"):
                        continue
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    self.maps.append((lo, hi, int(parts[2], 16), parts[5]))
        except OSError:
            pass

    def resolve(self, addr):
        for lo, hi, off, path in self.maps:
            if lo <= addr < hi:
                foff = addr - lo + off
                try:
                    real = "/proc/%d/root%s" % (self.pid, path)
                    e = elf_symbols(real if os.path.exists(real) else path)
                except Exception:
                    return None, foff, path.encode()
                name, o = e.resolve(e.vaddr_of_offset(foff))
                if name is None:
                    return None, foff, path.encode()
                return name, o, path.encode()
        return None, addr, None


def sigterm_exits():
    """Make SIGTERM end the program as Ctrl-C does, through sys.exit(0), so ``finally``
    blocks and atexit handlers run and a tool detaches what it attached.  The handler is
    set with the C signal module: signal.py builds enums at import, a measurable part of
    a tool's start."""
    try:
        from _signal import SIGTERM, signal
    except ImportError:
        from signal import SIGTERM, signal
    signal(SIGTERM, lambda *a: sys.exit(0))


def _help_formatter():
    import argparse

    class FastHelpFormatter(argparse.RawDescriptionHelpFormatter):
        """argparse's RawDescriptionHelpFormatter without the shutil import it makes
        for every add_argument (bz2, lzma, fnmatch: ~1/20 of a tool's start-up): the
        width comes from $COLUMNS or the terminal, as shutil.get_terminal_size's."""

        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
            if width is None:
                width = _terminal_columns() - 2
            super().__init__(prog, indent_increment, max_help_position, width)
    return FastHelpFormatter


def _terminal_columns():
    try:
        n = int(os.environ.get("COLUMNS", ""))
        if n > 0:
            return n
    except ValueError:
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def __getattr__(name):
    if name == "FastHelpFormatter":
        cls = globals()["FastHelpFormatter"] = _help_formatter()
        return cls
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
