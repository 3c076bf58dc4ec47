"""BPF's symbol and kernel look-ups (a mixin of :class:`bcc_core.bpf.BPF`): kernel and
user symbols (sym, ksym, ksymname, get_user_functions...), syscall function names, the
kprobe-able functions, tracepoints, and what the kernel supports (BTF, trampolines)."""
import errno
import os

from ..attach import link as _link
from ..load import features as _features
from ..utils import _assert_is_bytes, _str
from .constants import DEBUGFS, TRACEFS


class SymbolCache(object):
    """BCC's SymbolCache: resolve(addr, demangle) -> (name, offset, module);
    resolve_name(module, name) -> address or -1.  pid -1: the kernel."""

    def __init__(self, pid):
        self.pid = pid
        if pid == -1:
            from ..symbols import kernel_symbols
            self._impl = kernel_symbols()
        else:
            from ..symbols import ProcessSymbols
            self._impl = ProcessSymbols(pid)

    def resolve(self, addr, demangle):
        if self.pid == -1:
            return self._impl.resolve(addr)
        return self._impl.resolve(addr, demangle)

    def resolve_name(self, module, name):
        name = _assert_is_bytes(name)
        if self.pid == -1:
            return self._impl.address(name)
        return self._impl.resolve_name(module, name)


class Symbols(object):
    """The symbol, syscall-name and kernel-support methods of BPF (most are static:
    BCC's scripts call them as BPF.ksym(...), BPF.get_syscall_fnname(...))."""

    _sym_caches = {}

    @staticmethod
    def get_kprobe_functions(event_re):
        """The kernel functions (a set of bytes) matching the regular expression
        ``event_re`` that a kprobe may go on: text symbols of /proc/kallsyms outside the
        init and irq-entry sections, minus the kprobe blacklist and symbol kinds that
        cannot be probed (perf internals, syscall trampolines, .cold parts...).  Empty
        on a kernel without kprobes: no function can be probed there (so tools that
        fall back to a tracepoint when a function is not found, as tcpdrop does, do)."""
        from ..load import features
        if not features.kprobes()[0]:
            return set()
        try:
            with open("%s/kprobes/blacklist" % DEBUGFS, "rb") as f:
                banned = {ln.split()[1] for ln in f if ln.strip()}
        except IOError as e:
            if e.errno not in (errno.EPERM, errno.ENOENT):
                raise
            banned = set()
        import re
        wanted = re.compile(_assert_is_bytes(event_re))
        section_end = {b"__init_begin": b"__init_end",
                       b"__irqentry_text_start": b"__irqentry_text_end"}
        markers = set(section_end) | set(section_end.values())
        unprobeable = (b"_kbl_addr_", b"__perf", b"perf_", b"__SCT__")
        cold = re.compile(rb"\.cold(\.\d+)?$")
        found, skip_to, seen = set(), None, set()
        with open("/proc/kallsyms", "rb") as f:
            for line in f:
                kind, sym = line.split()[1:3]
                if skip_to is not None:             # inside a skipped section
                    if sym == skip_to:
                        skip_to = None
                    continue
                if sym in markers:
                    if sym in section_end and sym not in seen:
                        seen.add(sym)
                        skip_to = section_end[sym]
                    continue
                if kind.lower() not in (b"t", b"w") or sym.startswith(unprobeable) \
                        or cold.search(sym) or sym in banned:
                    continue
                if wanted.match(sym):
                    found.add(sym)
        return found

    def get_syscall_prefix(self=None):
        """The prefix of this kernel's syscall functions (b"__x64_sys_"...): the first of
        syscall_names.PREFIXES under which kallsyms has the bpf syscall, else b"sys_"."""
        from ..attach.syscall_names import syscall_prefix
        return syscall_prefix().encode()

    def get_syscall_fnname(self, name):
        """The kernel function of syscall ``name`` (b"clone" -> b"__x64_sys_clone")."""
        return Symbols.get_syscall_prefix() + _assert_is_bytes(name)

    def fix_syscall_fnname(self, name):
        """Give a syscall function name written with any known prefix this kernel's."""
        name = _assert_is_bytes(name)
        from ..attach.syscall_names import PREFIXES
        old = next((p.encode() for p in PREFIXES if name.startswith(p.encode())), None)
        return name if old is None else self.get_syscall_fnname(name[len(old):])


    @classmethod
    def _check_path_symbol(cls, module, symname, addr, pid, sym_off=0):
        from ..symbols import resolve_symbol
        path, off = resolve_symbol(module, symname, addr, pid, sym_off)
        return path.encode(), off

    @staticmethod
    def find_library(libname):
        from ..symbols import find_library
        return find_library(libname)

    @staticmethod
    def get_tracepoints(tp_re):
        """All "category:event" tracepoint names matching the regular expression."""
        events = os.path.join(_features.tracefs(mount=True) or TRACEFS, "events")
        import re
        pattern = re.compile(_str(tp_re))
        names = []
        for category in os.listdir(events):
            cdir = os.path.join(events, category)
            if os.path.isdir(cdir):
                names += ["%s:%s" % (category, ev) for ev in os.listdir(cdir)
                          if os.path.isdir(os.path.join(cdir, ev))]
        return [n for n in names if pattern.match(n)]

    @staticmethod
    def tracepoint_exists(category, event):
        return _link.tracepoint_exists(_str(category), _str(event))

    @staticmethod
    def support_raw_tracepoint():
        """True if the kernel has raw tracepoints (checked through a kallsyms symbol of
        their implementation, whose name changed over time)."""
        return any(Symbols.ksymname(sym) != -1
                   for sym in ("bpf_find_raw_tracepoint", "bpf_get_raw_tracepoint"))

    @staticmethod
    def support_raw_tracepoint_in_module():
        # the kernel tracks module tracepoints for BPF since bpf_trace_modules exists
        return Symbols.ksymname(b"bpf_trace_modules") != -1

    @staticmethod
    def kernel_struct_has_field(struct_name, field_name):
        from .. import btf as _btf
        try:
            kb = _btf.kernel_btf()
        except Exception:
            return -1
        sname, fname = _str(struct_name), _str(field_name)
        for tid in kb.find(sname, _btf.KIND_STRUCT) or []:
            def has(tid, depth=0):
                for m in kb.type(tid).members:
                    if m.name == fname:
                        return True
                    if not m.name and depth < 8:
                        u = kb.skip_mods(m.type)
                        if kb.kind_of(u) in (_btf.KIND_STRUCT, _btf.KIND_UNION) and \
                                has(u, depth + 1):
                            return True
                return False
            return 1 if has(tid) else 0
        return -1

    @staticmethod
    def kernel_enum_has_val(enum_name, value_name):
        """1 if the kernel's enum ``enum_name`` (BTF) has the value ``value_name``, 0 if
        not, -1 if the kernel has no such enum (or no BTF)."""
        from .. import btf as _btf
        try:
            kb = _btf.kernel_btf()
        except Exception:
            return -1
        ename, vname = _str(enum_name), _str(value_name)
        tids = [t for kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64)
                for t in (kb.find(ename, kind) or [])]
        if not tids:
            return -1
        return 1 if any(name == vname for t in tids
                        for name, _ in (kb.type(t).values or ())) else 0

    @staticmethod
    def get_user_functions(name, sym_re):
        """Names of the functions of binary/library ``name`` matching ``sym_re``."""
        return {f for f, _ in Symbols.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def get_user_addresses(name, sym_re):
        """Addresses of the functions of ``name`` matching ``sym_re``."""
        return {a for _, a in Symbols.get_user_functions_and_addresses(name, sym_re)}

    @staticmethod
    def get_user_functions_and_addresses(name, sym_re):
        """[(function name, address)] for the symbols of ``name`` matching ``sym_re``."""
        from ..symbols import elf_symbols, resolve_module
        import re
        pattern = re.compile(_assert_is_bytes(sym_re))
        path = resolve_module(name)
        if path is None:
            raise Exception("Error %d enumerating symbols in %s" % (-1, _str(name)))
        return [(sym, addr) for addr, _size, sym in elf_symbols(path).functions()
                if pattern.match(sym)]

    @staticmethod
    def _sym_cache(pid):
        key = -1 if pid < 0 else pid        # every negative pid means the kernel
        cache = Symbols._sym_caches.get(key)
        if cache is None:
            cache = Symbols._sym_caches[key] = SymbolCache(key)
        return cache

    @staticmethod
    def sym(addr, pid, show_module=False, show_offset=False, demangle=True):
        """sym(addr, pid, show_module=False, show_offset=False)

        The function containing ``addr`` in process ``pid`` (a negative pid: the
        kernel) as bytes, b"[unknown]" if none -- or of ``addr`` a frame of a build-id
        stack (struct bpf_stack_build_id, resolved through add_module()); optionally followed by "+0x<offset>"
        and " [<module file name>]", e.g. b"start_thread+0x202 [libpthread-2.24.so]".
        """
        from . import buildsyms
        if buildsyms.is_build_id_frame(addr):      # a BPF_STACK_TRACE_BUILDID frame
            name, offset, module = buildsyms.resolve(addr)
        else:
            name, offset, module = Symbols._sym_cache(pid).resolve(addr, demangle)
        text = name or b"[unknown]"
        if show_offset and name is not None:
            text += b"+0x%x" % offset
        if show_module and module is not None:
            text += b" [%s]" % os.path.basename(module)
        return text

    @staticmethod
    def ksym(addr, show_module=False, show_offset=False):
        """sym() for a kernel address."""
        return Symbols.sym(addr, -1, show_module, show_offset, False)

    @staticmethod
    def ksymname(name):
        """The address of kernel symbol ``name``, or -1 if kallsyms does not have it."""
        return Symbols._sym_cache(-1).resolve_name(None, name)

    @staticmethod
    def add_prefix(prefix, name):
        if not name.startswith(prefix):
            name = prefix + name
        return name

    @staticmethod
    def support_kfunc():
        if os.uname().machine != 'x86_64':
            return False
        return bool(_features.trampolines()[0])

    @staticmethod
    def support_lsm():
        if Symbols.ksymname(b"bpf_lsm_bpf") == -1:
            return False
        return bool(_features.trampolines()[0])

    @staticmethod
    def support_fmod_ret():
        """True if the kernel has fmod_ret programs (BPF_MODIFY_RETURN) and can attach
        them (BPF trampolines)."""
        return Symbols.kernel_enum_has_val("bpf_attach_type", "BPF_MODIFY_RETURN") == 1 \
            and bool(_features.trampolines()[0])
