"""Pausing Python's cyclic garbage collector around bounded, allocation-heavy work.

A push of 500 mutations allocates a few hundred thousand short-lived objects, which makes the collector run its
generations over and over (measured: about a third of the push's CPU time). The work is bounded by the batch and body
size limits, creates few reference cycles, and reference counting still frees nearly everything at once; so the
collector is paused for the duration and simply re-enabled afterwards: its next young-generation pass then finds
only what is still alive, not the batch (collecting at once, while the batch is still referenced, cost 1 ms a push).
"""
import contextlib
import gc


@contextlib.contextmanager
def gc_paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
