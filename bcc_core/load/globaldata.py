"""Global data of a loaded object: :class:`GlobalData` (named access to the variables of
.bss, .data, .rodata, .kconfig...) and the :class:`~.loader.Object` methods that decode,
encode and validate them (mixed into Object)."""
from .. import btf as _btf
from ..errors import ConfigError


class GlobalData:
    """Named access to the variables of a global-data map (.bss, .data, .rodata...)."""

    def __init__(self, obj, m, spec):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_map", m)
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_vars", obj._datasec_vars(spec))

    def names(self):
        return list(self._vars)

    def _raw(self):
        if self._map is None:
            return self._spec.data
        return self._map.lookup(0)

    def __getitem__(self, name):
        if name not in self._vars:
            raise KeyError("no variable '%s' in %s (has: %s)"
                           % (name, self._spec.name, ", ".join(self._vars) or "none"))
        off, size, tid = self._vars[name]
        return self._obj._decode_var(self._raw()[off:off + size], tid)

    def __setitem__(self, name, value):
        if name not in self._vars:
            raise KeyError("no variable '%s' in %s" % (name, self._spec.name))
        off, size, tid = self._vars[name]
        raw = bytearray(self._raw())
        raw[off:off + size] = self._obj._encode_var(name, value, size, tid)
        self._map.update(0, bytes(raw))

    __getattr__ = __getitem__

    def __setattr__(self, name, value):
        self[name] = value

    def raw(self, name):
        off, size, _ = self._vars[name]
        return self._raw()[off:off + size]

    def as_dict(self):
        return {n: self[n] for n in self._vars}


class GlobalVars:
    """Object's global-data half: BTF variable layout, encoding, initial contents and the
    ``bss``/``data``/``rodata`` views (a mixin of :class:`~.loader.Object`)."""

    def _datasec_vars(self, mspec):
        b = self.btf
        out = {}
        if b is None or not mspec.sec_var_type:
            return out
        for vtid, off, size in b.type(mspec.sec_var_type).secinfo:
            v = b.type(vtid)
            if v.kind != _btf.KIND_VAR:
                continue
            off = self.spec.sym_offsets.get((mspec.name, v.name), off)
            if mspec.kind == "kconfig":
                e = next((e for e in self.spec.externs if e.name == v.name), None)
                off = e.data_off if e else off
            out[v.name] = (off, size or b.resolve_size(v.type), v.type)
        return out

    def _decode_var(self, raw, tid):
        b = self.btf
        t = b.type(b.skip_mods(tid))
        if t.kind in (_btf.KIND_INT, _btf.KIND_ENUM, _btf.KIND_ENUM64) and \
                len(raw) in (1, 2, 4, 8):
            signed = (t.kind == _btf.KIND_INT and bool(t.encoding & _btf.INT_SIGNED)) or \
                (t.kind != _btf.KIND_INT and t.signed)
            if t.kind == _btf.KIND_INT and t.encoding & _btf.INT_BOOL:
                return bool(raw[0])
            return int.from_bytes(raw, "little", signed=signed)
        if t.kind == _btf.KIND_PTR:
            return int.from_bytes(raw, "little")
        return bytes(raw)

    def _encode_var(self, name, value, size, tid):
        b = self.btf
        t = b.type(b.skip_mods(tid))
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            signed = t.kind == _btf.KIND_INT and bool(t.encoding & _btf.INT_SIGNED) or \
                (t.kind in (_btf.KIND_ENUM, _btf.KIND_ENUM64) and t.signed) or value < 0
            try:
                return value.to_bytes(size, "little", signed=signed)
            except OverflowError:
                raise ConfigError("global '%s': %d does not fit in %d bytes"
                                  % (name, value, size)) from None
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)
            if len(value) > size:
                raise ConfigError("global '%s': %d bytes given, the variable has %d"
                                  % (name, len(value), size))
            if len(value) < size:
                if t.kind != _btf.KIND_ARRAY:
                    raise ConfigError("global '%s': %d bytes given, the variable has %d"
                                      % (name, len(value), size))
                value += bytes(size - len(value))
            return value
        if hasattr(value, "_fields_"):   # ctypes structure
            import ctypes
            raw = ctypes.string_at(ctypes.addressof(value), ctypes.sizeof(value))
            return self._encode_var(name, raw, size, tid)
        raise ConfigError("global '%s': cannot store a %s" % (name, type(value).__name__))

    def _validate_rodata(self):
        if not self.rodata_config:
            return
        known = {}
        for m in self._data_specs.values():
            if m.kind == "rodata":
                for n, v in self._datasec_vars(m).items():
                    known[n] = (m, v)
        for name, value in self.rodata_config.items():
            if name not in known:
                raise ConfigError("read-only config: no 'const volatile' global named '%s' in "
                                  "%s (has: %s)" % (name, self.path,
                                                    ", ".join(sorted(known)) or "none"))
            m, (off, size, tid) = known[name]
            self._encode_var(name, value, size, tid)

    def _initial_data(self, mspec):
        data = bytearray(mspec.data)
        if mspec.kind == "rodata" and self.rodata_config:
            vars_ = self._datasec_vars(mspec)
            for name, value in self.rodata_config.items():
                if name in vars_:
                    off, size, tid = vars_[name]
                    data[off:off + size] = self._encode_var(name, value, size, tid)
        if mspec.kind == "kconfig":
            data[:] = self._kconfig_data
        return bytes(data)

    # -- access ----------------------------------------------------------------------------
    def data_section(self, name):
        ms = self._data_specs.get(name)
        if ms is None:
            raise KeyError("no data section '%s' (has: %s)"
                           % (name, ", ".join(self._data_specs) or "none"))
        return GlobalData(self, self.maps.get(name), ms)

    @property
    def bss(self):
        return self.data_section(".bss")

    @property
    def data(self):
        return self.data_section(".data")

    @property
    def rodata(self):
        return self.data_section(".rodata")

    def global_var(self, name):
        for sec in self._data_specs:
            gd = self.data_section(sec)
            if name in gd._vars:
                return gd[name]
        raise KeyError("no global variable '%s'" % name)
