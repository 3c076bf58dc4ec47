# The symbol helpers stand in for libbcc's (bcc_procutils_which_so, bcc_resolve_symname,
# bcc_symcache_*) in pure Python; bcc_core.utils re-exports them under BCC's names.
"""Symbol resolution for the BCC facade: kernel symbols from /proc/kallsyms, user symbols
from ELF .symtab/.dynsym (pyelftools), shared library lookup like BCC's ``find_library``
(``ldconfig -p`` cache, then the usual dirs), process address maps.  Imported on first
use: a tool that resolves no symbol never loads it."""
import os

from ._strings import _assert_is_bytes, _str


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
_KINDS = ("STT_FUNC", "STT_GNU_IFUNC", "STT_OBJECT")


def _read_symbols(elf):
    """[(name, vaddr, size, is_function)] of an ELFFile's .symtab, then .dynsym (symbol
    versions, "memcpy@@GLIBC_2.14", stripped); sections a debug file left empty
    (SHT_NOBITS) are skipped."""
    from elftools.elf.sections import SymbolTableSection
    out = []
    for secname in (".symtab", ".dynsym"):
        sec = elf.get_section_by_name(secname)
        if not isinstance(sec, SymbolTableSection) or sec["sh_type"] == "SHT_NOBITS":
            continue
        for s in sec.iter_symbols():
            st = s["st_info"]["type"]
            if st not in _KINDS or not s["st_value"] or s["st_shndx"] == "SHN_UNDEF":
                continue
            name = s.name.encode().split(b"@")[0]
            if name:
                out.append((name, s["st_value"], s["st_size"], st != "STT_OBJECT"))
    return out


class ElfSymbols:
    """Function and object symbols of an ELF file (.symtab, else .dynsym), with the
    program headers to turn a virtual address into a file offset.  A name or address
    the file itself does not know makes it read its separate debug file once
    (:mod:`bcc_core.debuginfo`: build-id, .gnu_debuglink, BCC_SYMFS...)."""

    def __init__(self, path):
        from elftools.elf.elffile import ELFFile
        self.path = path
        self.syms = {}            # name -> (vaddr, size)
        self.sorted = []          # [(vaddr, size, name)]
        self._seen = set()
        self.debug_file_tried = False
        with open(path, "rb") as f:
            elf = ELFFile(f)
            self.etype = elf.header["e_type"]
            self.loads = [(s["p_vaddr"], s["p_offset"], s["p_filesz"], s["p_memsz"])
                          for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            self._add(_read_symbols(elf))

    def _add(self, entries):
        for name, vaddr, size, is_func in entries:
            if name not in self.syms:
                self.syms[name] = (vaddr, size)
            if is_func and (vaddr, name) not in self._seen:
                self._seen.add((vaddr, name))
                self.sorted.append((vaddr, size, name))
        self.sorted.sort()
        self._keys = [s[0] for s in self.sorted]

    def load_debug_file(self):
        """Add the symbols of the separate debug file (once); True if it added some."""
        if self.debug_file_tried:
            return False
        self.debug_file_tried = True
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile
        from .debuginfo import open_debug_file
        before = len(self._seen), len(self.syms)
        try:
            with open(self.path, "rb") as f:
                dbg = open_debug_file(ELFFile(f), self.path)
            if dbg is None:
                return False
            with dbg:
                self._add(_read_symbols(ELFFile(dbg)))
        except (OSError, ELFError, ValueError):
            return False
        return (len(self._seen), len(self.syms)) != before

    def address(self, name):
        """(vaddr, size) of symbol ``name`` (bytes), or None."""
        s = self.syms.get(name)
        if s is None and self.load_debug_file():
            s = self.syms.get(name)
        return s

    def functions(self):
        """[(vaddr, size, name)] of every function, the debug file's too."""
        self.load_debug_file()
        return self.sorted

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

    def _lookup(self, vaddr):
        """(name, offset, inside): inside when a symbol's extent covers vaddr."""
        from bisect import bisect_right
        i = bisect_right(self._keys, vaddr) - 1
        while i >= 0:
            a, size, name = self.sorted[i]
            if vaddr < a + max(size, 1):
                return name, vaddr - a, True
            if size == 0:
                return name, vaddr - a, False
            i -= 1
        return None, vaddr, False

    def resolve(self, vaddr):
        """(name, offset) of the function containing vaddr, or (None, vaddr)."""
        name, off, inside = self._lookup(vaddr)
        if not inside and self.load_debug_file():
            name, off, inside = self._lookup(vaddr)
        return name, off


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


def in_mount_ns(path, pid):
    """``path`` as process ``pid`` sees it: through /proc/PID/root, as libbcc's
    bcc_resolve_symname does for every pid but 0 and -1 (a path already under /proc is
    kept)."""
    if pid is None or pid in (0, -1) or not path.startswith("/") or \
            path.startswith("/proc"):
        return path
    return "/proc/%d/root%s" % (pid, path)


def resolve_module(name, pid=-1):
    """The path of a library or binary as BCC accepts it (full path, "c", "libc"...);
    with a pid, as that process sees it (its mount namespace: /proc/PID/root/...)."""
    n = _str(name)
    if "/" not in n:
        p = find_library(n, pid if pid and pid > 0 else 0)
        n = p.decode() if p else which(n)
        if n is None:
            return None
    n = in_mount_ns(n, pid)
    return n if os.path.exists(n) else None


def resolve_symbol(module, symname, addr=None, pid=-1, sym_off=0):
    """(path, file offset) of symname (or of virtual address addr) in module, as BCC's
    _check_path_symbol: the offset is what uprobes take."""
    path = resolve_module(module, pid)
    if path is None:
        raise Exception("could not find library or binary %s" % _str(module))
    e = elf_symbols(path)
    if symname:
        s = e.address(_assert_is_bytes(symname))
        if s is None:
            raise Exception("could not determine address of symbol %s in %s"
                            % (_str(symname), path))
        vaddr = s[0]
    else:
        vaddr = addr or 0
    return path, e.file_offset(vaddr) + sym_off


def _file_id(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class ProcessSymbols:
    """Resolve addresses of a process through /proc/PID/maps and the mapped ELF files
    (opened through /proc/PID/root: the process's mount namespace)."""

    def __init__(self, pid):
        self.pid = pid
        self.maps = self._read_maps()

    def _read_maps(self):
        maps = []
        try:
            with open("/proc/%d/maps" % self.pid) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 6 or not parts[5].startswith("/"):
                        continue
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    maps.append((lo, hi, int(parts[2], 16), parts[5]))
        except OSError:
            pass
        return maps

    def _real(self, path):
        real = "/proc/%d/root%s" % (self.pid, path)
        return real if os.path.exists(real) else path

    def _mapping(self, addr):
        for m in self.maps:
            if m[0] <= addr < m[1]:
                return m
        self.maps = self._read_maps()       # mapped since: read the maps again
        return next((m for m in self.maps if m[0] <= addr < m[1]), None)

    def resolve(self, addr, demangle=False):
        """(name, offset in the function, module path) or (None, file offset, module
        path), or (None, addr, None) outside every mapped file."""
        m = self._mapping(addr)
        if m is None:
            return None, addr, None
        lo, _hi, off, path = m
        foff = addr - lo + off
        try:
            e = elf_symbols(self._real(path))
        except Exception:
            return None, foff, path.encode()
        name, o = e.resolve(e.vaddr_of_offset(foff))
        if name is None:
            return None, foff, path.encode()
        if demangle:
            from .demangle import demangle as _demangle
            name = _demangle(name)
        return name, o, path.encode()

    def resolve_name(self, module, name):
        """The address of symbol ``name`` of ``module`` in the process (BCC's
        bcc_symcache_resolve_name: the module must be mapped), or -1."""
        target = resolve_module(module, self.pid)
        want = target and _file_id(target)
        if not want:
            return -1
        mine = [m for m in self.maps if _file_id(self._real(m[3])) == want]
        if not mine:
            self.maps = self._read_maps()
            mine = [m for m in self.maps if _file_id(self._real(m[3])) == want]
        e = elf_symbols(target)
        s = e.address(_assert_is_bytes(name))
        if not mine or s is None:
            return -1
        if e.etype != "ET_DYN":
            return s[0]
        foff = e.file_offset(s[0])
        for lo, hi, off, _path in mine:
            if off <= foff < off + hi - lo:
                return lo + foff - off
        lo, _hi, off, _path = min(mine)
        return lo - e.vaddr_of_offset(off) + s[0]
