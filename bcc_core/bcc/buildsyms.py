"""The build-id symbol cache (BCC's bcc_buildsymcache): the frames of a
BPF_STACK_TRACE_BUILDID stack are (build id, file offset) pairs, resolved to function
names through the ELF files added with ``BPF.add_module(path)``, by their
``.note.gnu.build-id``."""
from ..symbols import elf_symbols

BPF_STACK_BUILD_ID_VALID = 1
_modules = {}       # build id (bytes) -> ELF path


def read_build_id(path):
    """The GNU build id of an ELF file (bytes), or None if it has none."""
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if sec["sh_type"] != "SHT_NOTE":
                continue
            for note in sec.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    return bytes.fromhex(note["n_desc"])
    return None


def add_module(path):
    """Add an executable or library to the cache; returns its build id (None when it
    has none, and then it is not added)."""
    path = path.decode() if isinstance(path, bytes) else path
    bid = read_build_id(path)
    if bid is not None:
        _modules[bid] = path
    return bid


def is_build_id_frame(frame):
    """Whether ``frame`` is a struct bpf_stack_build_id (as BCC tells: by its type)."""
    return "bpf_stack_build_id" in type(frame).__name__ or (
        hasattr(frame, "build_id") and hasattr(frame, "status") and
        hasattr(frame, "offset"))


def resolve(frame):
    """(name or None, offset, module path or None) of a build-id stack frame."""
    if frame.status != BPF_STACK_BUILD_ID_VALID:
        return None, frame.offset, None
    bid = bytes(frame.build_id)
    path = _modules.get(bid)
    if path is None:
        path = next((p for b, p in _modules.items() if b and bid.startswith(b)), None)
    if path is None:
        return None, frame.offset, None
    e = elf_symbols(path)
    name, off = e.resolve(e.vaddr_of_offset(frame.offset))
    return name, off, path.encode()
