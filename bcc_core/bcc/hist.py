"""The histograms of BCC's tables (print_log2_hist, print_linear_hist, print_json_hist),
printed exactly as BCC prints them (tests/test_hist.py checks that)."""
import math
import sys
from time import strftime

from .lazy_ctypes import ct

stars_max = 40              # bar width of a histogram row, in characters
log2_index_max = 65         # log2 slots: 0 and one per bit of a 64-bit value
linear_index_max = 1025     # slots a plain linear histogram may use


# --- histogram text ------------------------------------------------------------------
#
# A row is "<label> : <count> |<bar>|".  Log2 labels are "<low> -> <high>" with both
# bounds 10 digits wide, or 20 (and a bar half as wide) when a count sits above slot 32,
# where the bounds outgrow 10 digits.  Linear labels are the slot number.  The header puts the value type over the label column, left-aligned after a
# fixed indent, and the column titles over the rest.

def _stars(val, val_max, width):
    """The bar for count ``val`` when the largest count is ``val_max``: ``width`` stars
    at the largest, proportionally fewer below it (rounded down); a count above
    ``val_max`` is drawn with its last star turned into ``+``."""
    scaled = width * val / val_max      # true division, so large counts round as BCC's
    scaled = min(width, scaled)         # (a NaN ratio compares false: full width)
    bar = "*" * (math.floor(scaled) if scaled > 0 else 0)
    if val > val_max:
        bar = bar[:-1] + "+"
    return bar


def _extent(vals):
    """(index of the last count above zero or -1, largest count above zero or 0)."""
    last = next((i for i in range(len(vals) - 1, -1, -1) if vals[i] > 0), -1)
    peak = max((v for v in vals if v > 0), default=0)
    return last, peak


def _emit_hist(val_type, rows, label_width, indent, bar_width, peak, skip_zeros,
               with_header):
    """Print a histogram: an optional header line, then one line per (label, count)
    of ``rows``; with ``skip_zeros`` the rows before the first non-zero count are left
    out."""
    if with_header:
        title = ("%%-%ds" % (label_width - indent)) % val_type
        print(" " * indent + title + " : count     distribution")
    for label, count in rows:
        if skip_zeros:
            if not count:
                continue
            skip_zeros = False
        print("%s : %-8d |%-*s|" % (label, count, bar_width,
                                   _stars(count, peak, bar_width)))


def _print_log2_hist(vals, val_type, strip_leading_zero):
    last, peak = _extent(vals)
    wide = last > 32
    digits, indent = (20, 15) if wide else (10, 5)
    bar_width = int(stars_max / 2) if wide else stars_max
    # slot i counts values in [2**(i-1), 2**i - 1]; slot 1 is shown as 0 -> 1 and
    # slot 0 (the value 0) is never shown
    rows = (("%*d -> %-*d" % (digits, 1 << (i - 1) if i > 1 else 0, digits, (1 << i) - 1),
             vals[i]) for i in range(1, last + 1))
    _emit_hist(val_type, rows, 2 * digits + 4, indent, bar_width, peak,
               strip_leading_zero, last > 0)


def _print_linear_hist(vals, val_type, strip_leading_zero):
    last, peak = _extent(vals)
    rows = ((" " * 8 + "%-10d" % i, vals[i]) for i in range(last + 1))
    _emit_hist(val_type, rows, 18, 5, stars_max, peak, strip_leading_zero, last >= 0)


def _strftime():
    """time.strftime, or what bcc_core.table.strftime was set to: as with BCC's
    bcc.table, a script or test replaces that for fixed time stamps."""
    table = sys.modules.get("bcc_core.table")
    return getattr(table, "strftime", strftime)


def _print_json_hist(vals, val_type, section_bucket=None):
    """Print the log2 counts in ``vals`` as a dict (Python's repr of it, as BCC does):
    time stamp, value type, one entry per slot from 1 to the last non-zero one, and the
    (name, value) of ``section_bucket`` if given."""
    last = max((i for i, v in enumerate(vals) if v != 0), default=0)
    data = [{"interval-start": 1 << (i - 1) if i > 1 else 0,
             "interval-end": (1 << i) - 1,
             "count": int(vals[i])} for i in range(1, last + 1)]
    histogram = {"ts": _strftime()("%Y-%m-%d %H:%M:%S"), "val_type": val_type,
                 "data": data}
    if section_bucket:
        name, value = section_bucket[0], section_bucket[1]
        histogram[name] = value
    print(histogram)


def _hist_sections(table, bucket_fn, bucket_sort_fn):
    """(bucket, counts) for each section of a struct-keyed histogram table, in order.
    Uses only what BCC's table interface has (decode_c_struct, items)."""
    per_bucket, order = {}, []
    table.decode_c_struct(per_bucket, order, bucket_fn, bucket_sort_fn)
    for bucket in order:
        yield bucket, per_bucket[bucket]


def _print_sections(table, render, val_type, strip_leading_zero, section_header,
                    section_print_fn, bucket_fn, bucket_sort_fn):
    for bucket, counts in _hist_sections(table, bucket_fn, bucket_sort_fn):
        if section_print_fn:
            print("\n%s = %s" % (section_header, section_print_fn(bucket)))
        else:
            print("\n%s = %r" % (section_header, bucket))
        render(counts, val_type, strip_leading_zero)


def _slot_counts(table, size):
    counts = [0] * size
    for k, v in table.items():
        counts[k.value] = v.value
    return counts



class Histograms(object):
    """The histogram methods of TableBase."""

    def decode_c_struct(self, tmp, buckets, bucket_fn, bucket_sort_fn):
        """Split the entries of a histogram keyed by a (bucket, slot) struct: ``tmp``
        gets one list of log2_index_max counts per bucket (after ``bucket_fn``) and
        ``buckets`` the buckets in order (``bucket_sort_fn``'s order if given)."""
        names = [f[0] for f in self.Key._fields_]
        bucket_field, slot_field = names[0], names[1]
        # a key laid out as (bucket, explicit padding, slot): the slot is the third
        if slot_field == "__pad_1" and len(names) == 3:
            slot_field = names[2]
        for k, v in self.items():
            raw_bucket = getattr(k, bucket_field)
            bucket = bucket_fn(raw_bucket) if bucket_fn else raw_bucket
            counts = tmp.setdefault(bucket, [0] * log2_index_max)
            counts[getattr(k, slot_field)] = v.value
        order = list(tmp)
        if bucket_sort_fn:
            order = bucket_sort_fn(order)
        buckets.extend(order)

    def print_json_hist(self, val_type="value", section_header="Bucket ptr",
                        section_print_fn=None, bucket_fn=None, bucket_sort_fn=None):
        """Print a log2 histogram as one dict per line (see :meth:`print_log2_hist` for
        the arguments); a struct-keyed table prints one per bucket, with the bucket
        under the key ``section_header``."""
        if isinstance(self.Key(), ct.Structure):
            for bucket, counts in _hist_sections(self, bucket_fn, bucket_sort_fn):
                shown = section_print_fn(bucket) if section_print_fn else bucket
                _print_json_hist(counts, val_type, (section_header, shown))
        else:
            _print_json_hist(_slot_counts(self, log2_index_max), val_type)

    def print_log2_hist(self, val_type="value", section_header="Bucket ptr",
                        section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                        bucket_sort_fn=None):
        """Print a table of log2 slot counts (key: slot 0..64) as a text histogram
        titled ``val_type``.

        A table keyed by a struct of (bucket, slot) prints one histogram per bucket,
        each introduced by "<section_header> = <bucket>"; ``section_print_fn(bucket)``
        gives the text shown for a bucket (default: its repr), ``bucket_fn(bucket)``
        maps the raw key field to the bucket and ``bucket_sort_fn(list)`` orders the
        buckets.  With ``strip_leading_zero`` the empty slots before the first
        non-empty one are not printed."""
        if isinstance(self.Key(), ct.Structure):
            _print_sections(self, _print_log2_hist, val_type, strip_leading_zero,
                            section_header, section_print_fn, bucket_fn, bucket_sort_fn)
        else:
            _print_log2_hist(_slot_counts(self, log2_index_max), val_type,
                             strip_leading_zero)

    def print_linear_hist(self, val_type="value", section_header="Bucket ptr",
                          section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                          bucket_sort_fn=None):
        """Print a table whose key is the value itself (0 .. linear_index_max - 1) as a
        text histogram, one row per value; the arguments are those of
        :meth:`print_log2_hist`.  Keys of a struct-keyed table are limited to slots
        below log2_index_max, as in BCC."""
        if isinstance(self.Key(), ct.Structure):
            _print_sections(self, _print_linear_hist, val_type, strip_leading_zero,
                            section_header, section_print_fn, bucket_fn, bucket_sort_fn)
            return
        counts = [0] * linear_index_max
        for k, v in self.items():
            if not -linear_index_max <= k.value < linear_index_max:
                raise IndexError("Index in print_linear_hist() of %d exceeds max of %d."
                                 % (k.value, linear_index_max))
            counts[k.value] = v.value
        _print_linear_hist(counts, val_type, strip_leading_zero)
