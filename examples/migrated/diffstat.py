"""Diff stat of each migrated tool against BCC's original (/usr/sbin/<tool>-bpfcc, BCC
0.26): `python3 examples/migrated/diffstat.py [--diff]`.  Removed lines that were the
embedded BPF C text (moved verbatim to <tool>.c) are counted apart from the Python
lines that changed."""
import difflib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = ["syscount", "softirqs", "hardirqs", "runqlat", "bitesize", "tcpstates"]


def c_literal_lines(lines):
    """Indexes of the lines of `name = \"\"\"...\"\"\"` C text literals (both quote lines)."""
    inside, idx = False, set()
    for i, line in enumerate(lines):
        if not inside and re.match(r'^\w+ = """', line):
            inside = True
            idx.add(i)
            if line.count('"""') == 2:
                inside = False
            continue
        if inside:
            idx.add(i)
            if '"""' in line:
                inside = False
    return idx


def stat(tool, show=False):
    orig_path = "/usr/sbin/%s-bpfcc" % tool
    with open(orig_path) as f:
        a = f.read().splitlines()
    with open(os.path.join(HERE, tool + ".py")) as f:
        b = f.read().splitlines()
    lit = c_literal_lines(a)
    added = removed = removed_c = 0
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        for i in range(i1, i2):
            if i in lit:
                removed_c += 1
            else:
                removed += 1
        added += j2 - j1
    if show:
        sys.stdout.writelines(difflib.unified_diff(
            [x + "\n" for x in a], [x + "\n" for x in b], orig_path, tool + ".py", n=0))
    return dict(tool=tool, orig=len(a), new=len(b), added=added, removed=removed,
                removed_c=removed_c)


if __name__ == "__main__":
    show = "--diff" in sys.argv
    print("%-10s %6s %6s %8s %8s %10s" % ("tool", "orig", "new", "+python", "-python",
                                          "-C text"))
    for t in TOOLS:
        s = stat(t, show)
        print("%-10s %6d %6d %8d %8d %10d" % (t, s["orig"], s["new"], s["added"],
                                              s["removed"], s["removed_c"]))
