"""The PostgreSQL projector: journal -> read model (docs/architecture.md, Projector; ADR 0006).

statements, plan and fold are pure; executor, processor, runner and rebuild do the I/O.
Importing this package opens no connection.
"""
