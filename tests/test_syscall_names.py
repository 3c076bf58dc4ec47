"""The syscall prefix from kallsyms (pure: files written here, plus the running kernel's)."""
import pytest

from bcc_core.attach import syscall_names as sn


def _kallsyms(tmp_path, lines):
    p = tmp_path / "kallsyms"
    p.write_bytes(b"".join(b"%016x %s %s\n" % (0xffffffff81000000 + i, k, n)
                           for i, (k, n) in enumerate(lines)))
    return str(p)


@pytest.mark.parametrize("where", [0, 5000, 30000, 59999])
def test_prefix_found_across_chunk_boundaries(tmp_path, monkeypatch, where):
    monkeypatch.setattr(sn, "_CHUNK", 4096)
    lines = [(b"t", b"filler_%d" % i) for i in range(60000)]
    lines[where] = (b"T", b"__x64_sys_bpf")
    assert sn._kallsyms_prefixes(_kallsyms(tmp_path, lines)) == {"__x64_sys_"}


def test_look_alikes_do_not_count(tmp_path):
    lines = [(b"T", b"__se_sys_bpf"), (b"T", b"__do_sys_bpf"), (b"t", b"sys_bpfx"),
             (b"T", b"x_sys_bpf"), (b"t", b"sys_bpf\t[some_module]")]
    assert sn._kallsyms_prefixes(_kallsyms(tmp_path, lines)) == set()


def test_plain_prefix_and_order(tmp_path, monkeypatch):
    lines = [(b"T", b"__arm64_sys_bpf"), (b"T", b"sys_bpf")]
    assert sn._kallsyms_prefixes(_kallsyms(tmp_path, lines)) == {"__arm64_sys_", "sys_"}
    monkeypatch.setattr(sn, "_prefix", [])
    assert sn.syscall_prefix(_kallsyms(tmp_path, lines)) == "sys_"   # BCC's order


def test_last_line_without_newline(tmp_path):
    p = tmp_path / "kallsyms"
    p.write_bytes(b"ffffffff81000000 t a\nffffffff81000001 T __s390x_sys_bpf")
    assert sn._kallsyms_prefixes(str(p)) == {"__s390x_sys_"}


def test_unreadable_kallsyms_gives_bccs_default(tmp_path, monkeypatch):
    monkeypatch.setattr(sn, "_prefix", [])
    assert sn.syscall_prefix(str(tmp_path / "missing")) == "sys_"


def test_running_kernel_agrees_with_a_full_scan():
    with open("/proc/kallsyms", "rb") as f:
        names = {line.split()[2] for line in f.read().splitlines()
                 if len(line.split()) == 3}
    full = {p for p in sn.PREFIXES if (p + "bpf").encode() in names}
    assert full, "no bpf syscall under any known prefix in /proc/kallsyms"
    assert sn._kallsyms_prefixes("/proc/kallsyms") == full
