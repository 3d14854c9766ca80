"""Tablets: one-time enrollment codes, device tokens, and each tablet's sync health."""
