"""Tickets through processes: the pure transition core (snapshot in, plan out), the adapter that loads and
writes through `itsm.store`, and the worker's due work (docs/engine.md)."""
