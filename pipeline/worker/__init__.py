"""The aggregate worker: commands -> decide -> journal + reply -> evolve (ARCHITECTURE §4.1)."""
