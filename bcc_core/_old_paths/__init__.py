"""The module paths of bcc-core before its layers became sub-packages.

bcc_core/__init__.py puts this directory on ``bcc_core.__path__``, after the package's
own: ``import bcc_core.loader`` finds ``loader.py`` here, which makes ``bcc_core.loader``
the module ``bcc_core.load.loader`` (the same object).  ``elf``, ``spec`` and ``link``,
whose contents were split, gather their old names.  bcc-core's own code never imports
these paths (tests/test_layers.py).
"""
