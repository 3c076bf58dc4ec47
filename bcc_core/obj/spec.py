"""The data model of a BPF object: :class:`ObjectSpec` and the programs, maps, externs and
relocations it holds.  The parser (:mod:`bcc_core.obj.elf`) fills it in; parsed specs are
cached on disk by :mod:`bcc_core.obj.cache`.
"""
import os

from .sec import attach_target

DATA_KINDS = ("data", "rodata", "bss", "kconfig")


class Reloc:
    """An instruction relocation in a program section, resolved to its symbol."""
    __slots__ = ("insn_idx", "type", "sym_name", "sym_sec", "sym_value", "sym_type",
                 "sym_bind", "sym_shndx")

    def __init__(self, insn_idx, type, sym_name, sym_sec, sym_value, sym_type, sym_bind,
                 sym_shndx):
        self.insn_idx, self.type, self.sym_name, self.sym_sec = insn_idx, type, sym_name, sym_sec
        self.sym_value, self.sym_type, self.sym_bind = sym_value, sym_type, sym_bind
        self.sym_shndx = sym_shndx

    def __getstate__(self):
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, st):
        for s, v in zip(self.__slots__, st):
            setattr(self, s, v)


class ProgSection:
    """An executable section: instructions plus relocations (by instruction index)."""

    def __init__(self, name, index, insns, relocs):
        self.name, self.index, self.insns, self.relocs = name, index, insns, relocs


class ProgramSpec:
    """A BPF program: a FUNC symbol in an executable section.  ``insn_off`` and ``insn_cnt``
    count instructions within the section.  Programs in ``.text`` are subprograms."""

    def __init__(self, name, section, insn_off, insn_cnt, sec_def, is_global):
        self.name, self.section = name, section
        self.insn_off, self.insn_cnt = insn_off, insn_cnt
        self.sec_name = section.lstrip("?")
        self.autoload = not section.startswith("?")
        self.sec_def = sec_def
        self.is_global = is_global
        self.attach_target = attach_target(self.sec_name, sec_def) if sec_def else ""

    @property
    def prog_type(self):
        return self.sec_def.prog_type

    @property
    def is_subprog(self):
        return self.sec_def is None

    def __repr__(self):
        return "ProgramSpec(%r, %r)" % (self.name, self.section)


class MapSpec:
    """A map to create: a BTF-defined map from ``.maps`` or a global-data section."""

    def __init__(self, name, type=0, key_size=0, value_size=0, max_entries=0, map_flags=0,
                 numa_node=0, pinning=0, map_extra=0, btf_key_type_id=0,
                 btf_value_type_id=0, inner=None, init_slots=None, section=None,
                 data=None, kind="map", sec_var_type=0):
        self.name, self.type = name, type
        self.key_size, self.value_size, self.max_entries = key_size, value_size, max_entries
        self.map_flags, self.numa_node, self.pinning = map_flags, numa_node, pinning
        self.map_extra = map_extra
        self.btf_key_type_id, self.btf_value_type_id = btf_key_type_id, btf_value_type_id
        self.inner = inner                    # MapSpec of the inner map (map-in-map)
        self.init_slots = init_slots or {}    # slot index -> map or program name
        self.section = section                # ELF section name ('.maps', '.rodata'...)
        self.data = data                      # initial contents of a global-data map
        self.kind = kind                      # 'map' or one of DATA_KINDS
        self.sec_var_type = sec_var_type      # DATASEC type id for global data

    def __repr__(self):
        return "MapSpec(%r, type=%d, key=%d, value=%d, max=%d)" % (
            self.name, self.type, self.key_size, self.value_size, self.max_entries)


class ExternSpec:
    """An ``extern`` variable or function: __kconfig (kind 'kcfg') or __ksym ('ksym')."""

    def __init__(self, name, kind, btf_id, weak, sec_name, is_func=False):
        self.name, self.kind, self.btf_id, self.weak = name, kind, btf_id, weak
        self.sec_name, self.is_func = sec_name, is_func
        self.data_off = 0   # offset in the .kconfig map for kcfg externs
        self.size = 0
        self.align = 1


class CoreRelo:
    __slots__ = ("insn_off", "type_id", "access", "kind")

    def __init__(self, insn_off, type_id, access, kind):
        self.insn_off, self.type_id, self.access, self.kind = insn_off, type_id, access, kind

    def __getstate__(self):
        return (self.insn_off, self.type_id, self.access, self.kind)

    def __setstate__(self, st):
        self.insn_off, self.type_id, self.access, self.kind = st

    def __repr__(self):
        return "CoreRelo(insn=%d, type=%d, %r, kind=%d)" % (
            self.insn_off // 8, self.type_id, self.access, self.kind)


class BTFExt:
    """Decoded .BTF.ext: per section name, lists of func_info (insn_off, type_id),
    line_info (insn_off, file_name_off, line_off, line_col) and CoreRelo; insn_off in
    bytes from the section start, as stored."""

    def __init__(self):
        self.func_info = {}
        self.line_info = {}
        self.core_relos = {}
        self.func_info_rec_size = 8
        self.line_info_rec_size = 16


class ObjectSpec:
    def __init__(self, path, name):
        self.path, self.name = path, name
        self.license = None
        self.kern_version = 0
        self.btf = None           # raw .BTF bytes
        self.btf_index = None     # its BTF.index_bytes(): a warm start skips the indexing
        self.kernel_btf = None    # .BTF fixed up for BPF_BTF_LOAD (elf.btf_for_kernel)
        self.btf_ext = None       # BTFExt
        self.sections = {}        # name -> ProgSection
        self.programs = []        # [ProgramSpec] entry programs (sec_def set)
        self.subprogs = []        # [ProgramSpec] in .text
        self.maps = []            # [MapSpec], BTF-defined maps then global data
        self.externs = []         # [ExternSpec]
        self.sec_sizes = {}       # data section name -> size (for BTF DATASEC fix-ups)
        self.sym_offsets = {}     # (section, var name) -> offset, for DATASEC VARs
        self.key = None           # content hash of the ELF file (cache key)

    def program(self, name):
        for p in self.programs:
            if p.name == name:
                return p
        raise KeyError(name)

    def map(self, name):
        for m in self.maps:
            if m.name == name:
                return m
        raise KeyError(name)


def object_name(path):
    base = os.path.basename(path or "obj")
    return base.split(".", 1)[0] or "obj"
