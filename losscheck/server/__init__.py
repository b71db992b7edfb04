"""``losscheck server``: a Language Server (LSP over stdio) for editors.

Built on pygls and lsprotocol (the ``losscheck[server]`` extra). The modules:

- ``cli.py``: the subcommand; it imports pygls only when it runs;
- ``projects.py``: the settings and rule plan of each project (``[tool.losscheck]``, the
  layout), built once and rebuilt when a config or layout file changes;
- ``documents.py``: linting a buffer or a notebook through the same runner as
  ``losscheck lint -``, with the last result of each document kept by content hash;
- ``convert.py``: findings to LSP diagnostics, fixes to text edits, hover text;
- ``notebooks.py``: LSP notebook documents as the notebook JSON the runner reads;
- ``server.py``: document sync, debounced linting on one worker thread, publishing;
- ``features.py``: the LSP methods: open/change/save/close, notebooks, watched files, code
  actions, hover;
- ``protocol.py``: malformed messages answered with JSON-RPC errors.
"""
