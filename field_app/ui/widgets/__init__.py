"""Reusable widgets: common building blocks, form field editors, the offline grid map."""
