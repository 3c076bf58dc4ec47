"""``bcc_core.spec``: :mod:`bcc_core.obj.spec` (the data model), with ``load_spec`` (now in
:mod:`bcc_core.obj.cache`)."""
from .obj.cache import SPEC_VERSION, load_spec  # noqa: F401
from .obj.spec import *  # noqa: F401,F403
