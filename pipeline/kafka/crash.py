"""How a consumer component ends when a batch fails.

It exits at once, without closing its consumer or committing anything: the failed batch's
offsets stay uncommitted, so the restarted process (the supervisor's job: k8s, `make run`, the
chaos suite) reads it again, and every write it may have made is idempotent. A graceful close
could commit, and an in-process retry could move past records (Faust restarts an agent after
the failed batch). 70 is EX_SOFTWARE (sysexits.h): the supervisor sees a crash, not a stop.
"""

from __future__ import annotations

import logging
import os
from typing import NoReturn

CRASH_EXIT_CODE = 70


def crash(log: logging.Logger, what: str) -> NoReturn:
    """Log the exception being handled as critical, then exit with CRASH_EXIT_CODE."""
    log.critical("%s failed; exiting for a clean restart", what, exc_info=True)
    logging.shutdown()
    os._exit(CRASH_EXIT_CODE)
