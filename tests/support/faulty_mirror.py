"""`python -m tests.support.faulty_mirror`: the journal mirror with faults injected into its
DynamoDB client (THREADWEAVER_MIRROR_FAULTS, tests/support/mirror_faults.py). Test-only: the
shipped mirror has no fault setting, so no deployment can switch this on."""

from __future__ import annotations

import logging
import os

from pipeline.mirror.main import main
from tests.support.mirror_faults import FaultInjector, parse_faults

FAULTS_VARIABLE = "THREADWEAVER_MIRROR_FAULTS"

if __name__ == "__main__":
    spec = os.environ.get(FAULTS_VARIABLE, "")
    injector = FaultInjector(parse_faults(spec))

    def install(client: object) -> None:
        logging.getLogger("threadweaver.mirror").warning("TEST FAULT INJECTION: %s", spec)
        injector.install(client)

    main(install)
