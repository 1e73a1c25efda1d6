"""The Claude Code hook bridge: ``loomline hook`` and ``loomline install-hooks``.

A room of its own beside receiver/: it runs inside Claude Code's hook processes, so it
imports nothing from the loomline package (the front door) and keeps its hot path light.

- ``bridge.record``: the record (``HookRecord``, ``build_record``, the OTLP export request)
- ``bridge.context``: local facts (CLI run, git project and branch, transcript reading)
- ``bridge.options``: flags, config file and defaults
- ``bridge.spool``: the on-disk spool
- ``bridge.send``: the OTLP exporter and delivery
- ``bridge.hook``: the ``loomline hook`` entry point
- ``bridge.install_hooks``: ``loomline install-hooks``
"""

# Kept equal to loomline.__version__ (tests/test_hook.py checks): the bridge may not import
# the loomline package, and reading package metadata would slow every hook down.
__version__ = "0.1.0"
