"""Contract suites: one set of test cases, run over every implementation of an interface.

A module under tests/unit or tests/integration subclasses a contract and supplies the fixture
that builds the implementation (pyeventsourcing's style), so an in-memory stand-in is held to
the same cases as the real server it stands in for.
"""
