"""Every link a BPF object holds, in the dicts BCC exposes them in (``b.kprobe_fds``,
``b.uprobe_fds``, ``b.tracepoint_fds``...), each released once; and the count of kprobes
and uprobes open in the process, which BCC limits ($BCC_PROBE_LIMIT)."""
import os

_default_probe_limit = 1000
_num_open_probes = 0        # kprobes + uprobes attached by all BPF objects

# BCC's attribute names of the dicts, in the order cleanup() releases them
LINK_TABLES = ("kprobe_fds", "uprobe_fds", "tracepoint_fds", "raw_tracepoint_fds",
               "kfunc_entry_fds", "kfunc_exit_fds", "lsm_fds", "fmod_ret_fds")


def num_open_probes():
    return _num_open_probes


def count_probes(delta):
    global _num_open_probes
    _num_open_probes += delta


def probe_limit():
    """How many kprobes + uprobes may be open at once: $BCC_PROBE_LIMIT, else 1000."""
    limit = os.environ.get("BCC_PROBE_LIMIT", "")
    return int(limit) if limit.isdigit() else _default_probe_limit


class Attachments(object):
    """The links of one BPF object, by what BCC keys them with:

    * kprobe_fds: event name -> {program name -> link}; uprobe_fds: event name -> link
      (both counted in the process's open probes);
    * tracepoint_fds, raw_tracepoint_fds: tracepoint -> link; kfunc_entry_fds,
      kfunc_exit_fds, lsm_fds, fmod_ret_fds: program name -> link;
    * open_perf_events: (type, config) -> {cpu -> link};
    * auto: links of auto-attached programs BCC has no dict for (tp_btf, usdt...).
    """

    def __init__(self):
        for name in LINK_TABLES:
            setattr(self, name, {})
        self.open_perf_events = {}
        self.auto = []

    def add_kprobe(self, ev_name, fn_name, link):
        self.kprobe_fds.setdefault(ev_name, {})[fn_name] = link
        count_probes(1)

    def close_kprobe(self, ev_name, fn_name):
        by_prog = self.kprobe_fds.get(ev_name)
        if by_prog is None:
            raise Exception("Kprobe %s is not attached" % ev_name)
        by_prog[fn_name].close()
        by_prog.pop(fn_name)
        count_probes(-1)
        if not by_prog:
            del self.kprobe_fds[ev_name]

    def add_uprobe(self, name, link):
        self.uprobe_fds[name] = link
        count_probes(1)

    def close_uprobe(self, name):
        lk = self.uprobe_fds.get(name)
        if lk is None:
            raise Exception("Uprobe %s is not attached" % name)
        lk.close()
        self.uprobe_fds.pop(name)
        count_probes(-1)

    @staticmethod
    def close_one(links, key, what):
        """Close and forget links[key]; "<what> <key> is not attached" if it is not."""
        lk = links.pop(key, None)
        if lk is None:
            raise Exception("%s %s is not attached" % (what, key))
        lk.close()

    def close_perf_event(self, ev_type, ev_config):
        links = self.open_perf_events.pop((ev_type, ev_config), None)
        if links is None:
            raise Exception("Perf event type {} config {} not attached".format(
                ev_type, ev_config))
        for lk in links.values():
            lk.close()

    def release_links(self, attempt):
        """Close every probe link and the auto-attached ones; ``attempt(fn, *args)``
        runs each release, keeping going when one fails."""
        for ev_name in list(self.kprobe_fds):
            for fn_name in list(self.kprobe_fds.get(ev_name, ())):
                attempt(self.close_kprobe, ev_name, fn_name)
        for name in list(self.uprobe_fds):
            attempt(self.close_uprobe, name)
        for table, what in ((self.tracepoint_fds, "Tracepoint"),
                            (self.raw_tracepoint_fds, "Raw tracepoint"),
                            (self.kfunc_entry_fds, "Kernel entry func"),
                            (self.kfunc_exit_fds, "Kernel exit func"),
                            (self.lsm_fds, "LSM"), (self.fmod_ret_fds, "Fmod_ret func")):
            for key in list(table):
                attempt(self.close_one, table, key, what)
        while self.auto:
            attempt(self.auto.pop().close)

    def release_perf_events(self, attempt):
        for type_config in list(self.open_perf_events):
            attempt(self.close_perf_event, *type_config)


def _link_table(name):
    return property(lambda self: getattr(self.attachments, name),
                    doc="BCC's %s: see bcc_core.bcc.attachments.Attachments" % name)


class LinkTables(object):
    """BCC's attributes of the links (b.kprobe_fds...), read from b.attachments."""


for _name in LINK_TABLES + ("open_perf_events",):
    setattr(LinkTables, _name, _link_table(_name))
LinkTables._auto_links = property(lambda self: self.attachments.auto)
del _name
