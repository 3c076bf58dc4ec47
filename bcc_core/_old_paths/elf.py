"""``bcc_core.elf``: :mod:`bcc_core.obj.elf` (the parser and the data model's names), with
``load_spec`` (now in :mod:`bcc_core.obj.cache`) and ``read_section`` (now in
:mod:`bcc_core.btf`)."""
from .btf import read_section  # noqa: F401
from .obj.cache import load_spec  # noqa: F401
from .obj.elf import *  # noqa: F401,F403
from .obj.elf import _Parser  # noqa: F401
