"""test_resilience.py's cases — bad clients never hurting good ones — run again over TLS (issue 10: every
WebSocket end-to-end case over wss:// too, or a representative set). The
cases are the plain ones, unchanged: every herald here starts with
`--tls-cert`/`--tls-key` (tls_e2e.start_herald) and the raw-socket helpers
wrap their connections in TLS."""

from tls_e2e import start_herald, tls_files  # noqa: F401  (fixtures for this module)
from test_resilience import *  # noqa: F401,F403
