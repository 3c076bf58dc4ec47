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
