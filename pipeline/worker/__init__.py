"""The aggregate worker: commands -> decide -> journal + reply -> evolve.

See docs/architecture.md, Aggregate worker, and docs/adr/0002.
"""
