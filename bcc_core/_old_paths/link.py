"""``bcc_core.link``: :mod:`bcc_core.attach.link`, with ``attach_auto`` (now in
:mod:`bcc_core.attach.auto`)."""
from .attach.auto import attach_auto  # noqa: F401
from .attach.link import *  # noqa: F401,F403
from .attach.link import _live, _raw_tp_nargs  # noqa: F401
