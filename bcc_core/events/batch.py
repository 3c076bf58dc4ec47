"""Decoding a stretch of equal records with one struct call.

A ring read at a high rate holds long runs of records that differ only in their data:
the same header, the same size, one after another.  Such a run is decoded here as a
whole: the headers are checked by comparing strided memoryviews (one C loop per header
field), and the records are made by ``Struct.iter_unpack`` over the run, mapped
through ``tuple.__new__`` for struct_view records -- no Python bytecode per record.
The readers (perf_buffer, ringbuf) find the runs and fall back to their record-by-
record loop for whatever is not one (wrap-around, lost-sample records, mixed sizes).
"""
import gc
import struct
from itertools import repeat
from _operator import itemgetter

_first = itemgetter(0)


class deferred_gc(object):
    """The cyclic collector paused while a batch is built (as it was: left off if it
    was off).  Every record of a batch lives until the batch is returned and none
    holds a cycle, so the collections its allocations would trigger on the way -- each
    walking every record made so far, the older generations again and again -- free
    nothing; they cost a third of a 100k-record batch.  One pass follows instead."""
    __slots__ = ("was",)

    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()


def same_fields(view, k, stride, checks):
    """True when each of the ``k`` records of ``stride`` bytes in ``view`` holds the
    same values: ``checks`` is ((code, offset, packed value), ...), the offsets aligned
    to their code's size ("I" or "H")."""
    for code, off, value in checks:
        size = 4 if code == "I" else 2
        column = view.cast(code)[off // size::stride // size]
        if column.tobytes() != value * k:
            return False
    return True


class RunDecoder:
    """Decodes runs of records of one shape: ``stride`` bytes each, the data
    ``data_len`` bytes at ``data_off``, by ``decode`` (bytes, any callable taking the
    data, or a struct_view record class, whose records are built inline: one
    ``iter_unpack`` gives every record's slots)."""

    def __init__(self, decode, stride, data_off, data_len):
        self.decode = decode
        self.raw = struct.Struct("=%dx%ds%dx" % (data_off, data_len,
                                                 stride - data_off - data_len))
        self.slots = None
        fmt = getattr(decode, "_rec_format", None)
        size = getattr(decode, "_rec_size", None)
        if fmt is not None and size is not None and data_len >= size:
            body = fmt.lstrip("=")
            n = struct.calcsize("=" + body)
            self.slots = struct.Struct("=%dx%s%dx" % (data_off, body,
                                                      stride - data_off - n))

    def extend(self, out, view):
        """Append the records of ``view`` (a whole number of strides) to ``out``."""
        if self.slots is not None:
            out.extend(map(tuple.__new__, repeat(self.decode),
                           self.slots.iter_unpack(view)))
        elif self.decode is bytes:
            out.extend(map(_first, self.raw.iter_unpack(view)))
        else:
            out.extend(map(self.decode, map(_first, self.raw.iter_unpack(view))))


class RunDecoders(dict):
    """(decode, stride, data_off, data_len) -> RunDecoder, made on first use."""

    def get_decoder(self, decode, stride, data_off, data_len):
        key = (decode, stride, data_off, data_len)
        d = self.get(key)
        if d is None:
            if len(self) > 64:
                self.clear()
            d = self[key] = RunDecoder(decode, stride, data_off, data_len)
        return d


class RunRecords(dict):
    """Address -> record of the run being handed to callbacks (see RunLookup); an
    address not in the run is answered by ``fallback``."""
    __slots__ = ("fallback",)

    def __missing__(self, address):
        return self.fallback(address)


class RunLookup(object):
    """The records of a run handed to BCC-style callbacks (an address each), decoded
    beforehand for the callbacks' event() calls -- one per perf buffer, one per ring
    buffer map.  ``predecode`` names the struct_view record class (set by the facade
    once it knows the event type; None: nothing is decoded).

    The first decoded run is a probe: ``decoded`` maps each address to its record
    while the run's callbacks run, and the facade's event() pops them from there.  A
    callback that took none (it never calls event()) turns the pre-decoding off.  One
    that did, once ``bind(on_run, fallback)`` was called, gets the later runs' look-up
    with no Python code in between: ``on_run(lookup)`` before a run's callbacks and
    ``on_run(None)`` after them, ``lookup(address)`` being the C-level
    ``__getitem__`` of a :class:`RunRecords` that asks ``fallback`` for any other
    address."""
    __slots__ = ("predecode", "decoded", "on_run", "bound", "records", "decoders")

    def __init__(self, decoders):
        self.predecode = None
        self.decoded = None
        self.on_run = None
        self.bound = False          # on_run takes the runs' look-ups (after a probe)
        self.records = RunRecords()
        self.decoders = decoders    # a RunDecoders

    def bind(self, on_run, fallback):
        self.on_run = on_run
        self.records.fallback = fallback

    def begin(self, view, addrs, stride, data_off, data_len):
        """Decode the run in ``view`` (its records' addresses ``addrs``) if asked to;
        returns what end() takes."""
        cls = self.predecode
        if cls is None:
            return None
        recs = []
        self.decoders.get_decoder(cls, stride, data_off, data_len).extend(recs, view)
        if self.bound:
            d = self.records
            d.update(zip(addrs, recs))
            self.on_run(d.__getitem__)
        else:
            self.decoded = d = dict(zip(addrs, recs))
        return d

    def end(self, d, k):
        """After the callbacks of a run of ``k`` records that begin() returned ``d``
        for (also when one raised)."""
        if d is None:
            return
        if d is self.records:
            d.clear()
            self.on_run(None)
            return
        self.decoded = None
        if len(d) == k:             # no event() took one: stop decoding
            self.predecode = None
        elif self.on_run is not None:
            self.bound = True
