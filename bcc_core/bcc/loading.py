"""How BPF() gets its object (a mixin of :class:`bcc_core.bpf.BPF`): BCC C text or a C
file compiled once (bcc_core.compat.build), a compiled .bpf.o by path or as bytes; loading
it (programs the kernel cannot load deferred), and the programs as BPF.Function handles,
loaded again with the type an attach asks for."""
import errno
import os
import sys

from ..errors import BccCoreError, NotSupportedError, SourceFileError
from ..utils import ArgString, _assert_is_bytes, _str
from .constants import BPFProgType


def _is_elf(data):
    return isinstance(data, (bytes, bytearray)) and bytes(data[:4]) == b"\x7fELF"


def _looks_like_c(path, head):
    """Whether BPF(src_file=path) is C text (BCC's meaning) rather than an object: not
    an ELF file, not named like an object (.o), and text (no NUL byte).  An empty .c
    file is C (no programs, as BCC); an empty or corrupt .o goes to the ELF parser,
    which says what is wrong with it."""
    if head[:4] == b"\x7fELF" or path.endswith(".o") or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 4       # a character cut at the 4096th byte
    return True


def _text_object(text, filename, src_dir, cflags, btf):
    """The .bpf.o for BCC C text (BPF(text=...), BPF(src_file="x.c")): bundled, cached or
    compiled by bcc_core.compat.build.object_for_text.  Under `bcc-core bundle`
    ($BCC_CORE_BUNDLE) the object is also recorded in the bundle, and unless --run
    ($BCC_CORE_BUNDLE_RUN) the script ends there: nothing is loaded."""
    from ..compat import build as _build
    try:
        path, key = _build.object_for_text(text, cflags, filename, src_dir, btf)
    except BccCoreError as e:
        # one exception whose message starts with the user's file:line, raised from here:
        # the translator's and clang's internals are not the user's business
        raise e.with_traceback(None) from None
    bundle = os.environ.get(_build.BUNDLE_ENV)
    if bundle:
        dest = _build.record_bundle(bundle, path, key, text, cflags, filename)
        if not os.environ.get(_build.BUNDLE_RUN_ENV):
            sys.stdout.flush()
            sys.stderr.write("bcc-core bundle: recorded %s for %s (%d bytes of C); the "
                             "script stops here (bcc-core bundle --run lets it go on)\n"
                             % (dest, filename, len(text)))
            sys.stderr.flush()
            os._exit(0)
    return path


def _object_source(text, obj, src_file, usdt_contexts, cflags, btf):
    """(path of an object file or None, its bytes or None) for BPF()'s arguments: BCC C
    (text=, a C src_file=, usdt_contexts' argument readers first) is compiled here."""
    data = obj
    source = None               # BCC C: (text, file name for messages, its dir)
    if text is not None and data is None:
        if _is_elf(text):
            data = bytes(text)
        else:       # BCC's BPF(text='') (scripts use it for ksymname...): no programs
            if not isinstance(text, (str, bytes, bytearray)):
                raise TypeError("BPF(text=...) takes str or bytes, not %s"
                                % type(text).__name__)
            source = (text, "<text>", None)
    if usdt_contexts:
        if source is None:
            raise NotSupportedError("usdt_contexts= needs BCC C (text= or a .c "
                                    "src_file=): the argument readers are C")
        # as BCC: the functions reading the enabled probes' arguments come first
        from ..usdt import usdt_text as _usdt_text
        usdt_text = _usdt_text(list(usdt_contexts))
        t = source[0]
        source = ((usdt_text.encode() if isinstance(t, (bytes, bytearray)) else
                   usdt_text) + t,) + source[1:]
    src_file = _assert_is_bytes(src_file)
    path = None
    if src_file and source is None:
        src_file = Loading._find_file(src_file)
        path = _str(src_file)
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError as e:
            raise SourceFileError(e.errno, "BPF(src_file=%r): %s"
                                  % (path, e.strerror), path) from None
        # else an object, or a file that is not one (empty, truncated, another
        # format): the ELF parser says what is wrong with it
        if _looks_like_c(path, head):
            with open(path, "rb") as f:
                source = (f.read(), path, os.path.dirname(os.path.abspath(path)))
            path = None
    if src_file and source is None and usdt_contexts:
        raise NotSupportedError("usdt_contexts= needs BCC C (text= or a .c src_file=)")
    if source is not None:
        path = _text_object(*source, cflags=cflags, btf=btf)
    if data is None and path is None:
        raise Exception("BPF() needs text= (BCC C), src_file= (a .c file or a "
                        "compiled .bpf.o) or obj=bytes")
    return path, data, source is not None


class Function(object):
    """A loaded program: ``name`` (bytes) and its file descriptor ``fd``."""
    __qualname__ = "BPF.Function"
    __module__ = "bcc_core.bpf"

    def __init__(self, bpf, name, fd):
        self.bpf, self.name, self.fd = bpf, name, fd


class Loading(object):
    """BPF's loading methods: the object's programs as BPF.Function handles."""

    Function = Function

    @staticmethod
    def _find_file(filename):
        """``filename`` if it exists, else the same name next to the running script
        (the directory of sys.argv[0]); raises when neither exists."""
        if not filename or os.path.isfile(filename):
            return filename
        script_dir = os.path.abspath(os.path.dirname(bytes(ArgString(sys.argv[0]))))
        beside = b"/".join([script_dir, filename])
        if os.path.isfile(beside):
            return beside
        name = _str(filename)
        if os.path.isdir(filename):
            raise SourceFileError(errno.EISDIR, "BPF(src_file=%r): a directory, not a "
                                  "BPF object or a C file" % name, name)
        also = "" if os.path.isabs(name) else " (nor %r beside the script)" % _str(beside)
        raise SourceFileError(errno.ENOENT, "BPF(src_file=%r): no such file%s"
                              % (name, also), name)

    @staticmethod
    def find_exe(bin_path):
        """The path of the executable ``bin_path``: itself if it contains a directory
        part (and is executable), else the first match on $PATH; None if not found."""
        def runnable(p):
            return os.path.isfile(p) and os.access(p, os.X_OK)

        if os.path.dirname(bin_path):
            return bin_path if runnable(bin_path) else None
        as_bytes = isinstance(bin_path, bytes)
        for d in os.environ["PATH"].split(os.pathsep):
            d = d.strip('"')
            candidate = os.path.join(d.encode() if as_bytes else d, bin_path)
            if runnable(candidate):
                return candidate
        return None

    def _load(self, path, data, rodata, btf, kconfig, autoload=None, reuse_maps=None,
              bcc_c=False):
        from ..load.loader import Object
        from ..obj.cache import load_spec
        from ..obj.sec import EXT, LSM, TRACING
        from . import shared
        spec = load_spec(path, data)
        # extern tables get the public tables' fds, pinned tables their paths
        reuse_maps, pin_maps, public = shared.share_options(spec, reuse_maps)
        kw = dict(path=path, data=data, rodata=rodata, btf=btf, kconfig=kconfig,
                  reuse_maps=reuse_maps, pin_maps=pin_maps, spec=spec)
        autoload = dict(autoload or {})
        if bcc_c:
            from ..load.loader import LINK_ONLY
            # BCC loads a plain function when load_func() or an attach call gives its
            # type: linked now, loaded then (a tc classifier is no socket filter, and a
            # prog array takes the type of the first program loaded with it)
            autoload.update({p.name: LINK_ONLY for p in spec.programs
                             if p.sec_def is not None and p.section == p.sec_def.prefix
                             and p.name not in autoload})
        try:
            self._obj = Object(autoload=autoload, **kw)
        except NotSupportedError as first:
            # the kernel cannot load some programs (no trampolines...): load the rest
            # and raise the reason when those programs are attached
            skip = {p.name: False for p in spec.programs if p.sec_def is not None and
                    p.sec_def.prog_type in (TRACING, LSM, EXT)}
            if not skip:
                raise
            self._obj = Object(autoload=dict(autoload, **skip), **kw)
            for name in skip:
                self._deferred[name] = first
        shared.publish(self, public)

    @staticmethod
    def _fn_str(fn_name):
        return _str(fn_name)

    def _prog(self, fn_name, prog_type=None, attach_type=None):
        """The loaded program fn_name.  With prog_type (what an attach call implies):
        a program whose section names no target (BCC C's plain functions are
        SEC("kprobe")) is loaded again as that type if it is another, as BCC loads a
        function with the type of the attach that asks for it."""
        name = _str(fn_name)
        prog = self._obj.programs.get(name) if self._obj else None
        if prog is None:
            raise Exception("Unknown program %s" % name)
        if prog.fd < 0:
            from ..load.loader import LINK_ONLY
            if prog.autoload == LINK_ONLY:      # a BCC C function: loaded on first use
                self._obj.reload_program(name, prog_type or prog.prog_type, attach_type)
                return prog
            err = self._deferred.get(name)
            if err is not None:
                raise NotSupportedError(str(err)) from err
            raise Exception("Program %s is not loaded" % name)
        if prog_type is not None and (prog.prog_type != prog_type or (
                attach_type is not None and attach_type >= 0 and
                attach_type != prog.expected_attach_type)) and \
                prog.spec.sec_def is not None and prog.section == prog.spec.sec_def.prefix:
            self._obj.reload_program(name, prog_type, attach_type)
            fn = self.funcs.get(name.encode())
            if fn is not None:
                fn.fd = prog.fd
        return prog

    def load_funcs(self, prog_type=BPFProgType.KPROBE):
        """Return the handles of all programs of the object (BCC C's plain functions
        loaded as ``prog_type``)."""
        from ..load.loader import LINK_ONLY
        return [self.load_func(n, prog_type) for n, p in self._obj.programs.items()
                if p.fd >= 0 or p.autoload == LINK_ONLY]

    def load_func(self, func_name, prog_type=None, device=None, attach_type=-1):
        """The loaded program ``func_name`` as a BPF.Function (.fd, .name).  The program
        type comes from its SEC() name; a program whose section names no target is
        loaded again as ``prog_type`` when that differs (see _prog), with the expected
        attach type ``attach_type`` when one is given (BCC's BPFAttachType)."""
        func_name = _assert_is_bytes(func_name)
        fn = self.funcs.get(func_name)
        if fn is not None and prog_type is not None:
            self._prog(func_name, prog_type, attach_type)  # again if of another type
        if fn is None:
            fn = Function(self, func_name, self._prog(func_name, prog_type, attach_type).fd)
            self.funcs[func_name] = fn
        return fn

    def dump_func(self, func_name):
        """The instructions of program ``func_name`` as raw bytes."""
        prog = self._obj.programs.get(_str(func_name))
        if prog is None:
            raise Exception("Unknown program %s" % _str(func_name))
        return bytes(prog.insns or b"")

    def disassemble_func(self, func_name):
        """The program's instructions as text, as BCC prints them (see
        bcc_core.disassembler): the instructions loaded, relocations applied."""
        from ..disassembler import disassemble_prog
        return disassemble_prog(func_name, self.dump_func(func_name))

    def decode_table(self, table_name, sizeinfo=False):
        """The layout of map ``table_name``: its key and value as C declarations,
        from the ctypes Key/Leaf the table has (made from the map's BTF types)."""
        from ..disassembler import decode_map
        table = self[table_name]
        return decode_map(table_name, table, table.ttype, sizeinfo=sizeinfo)
