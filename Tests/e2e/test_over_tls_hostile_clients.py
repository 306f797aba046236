"""test_hostile_clients.py's cases — floods from clients that never read,
stuck readers, stalled sockets, the drop policy's gaps — run again over TLS
(issue 10: every WebSocket end-to-end case over wss:// too, or a
representative set). The cases are the plain ones, unchanged: every herald
here starts with `--tls-cert`/`--tls-key` (tls_e2e.start_herald) and the
socket helpers (`stuck_client` included) wrap their connections in TLS."""

from tls_e2e import start_herald, tls_files  # noqa: F401  (fixtures for this module)
from test_hostile_clients import *  # noqa: F401,F403
