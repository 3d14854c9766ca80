"""Pausing Python's cyclic garbage collector around bounded, allocation-heavy work.

A push of 500 mutations allocates a few hundred thousand short-lived objects, which makes the collector run its
generations over and over (measured: about a third of the push's CPU time). The work is bounded by the batch and body
size limits, creates few reference cycles, and reference counting still frees nearly everything at once; so the
collector is paused for the duration and restored afterwards, when one collection of the young generation runs.
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
            gc.collect(0)
