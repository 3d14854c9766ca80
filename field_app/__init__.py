"""Wangge field app: the grid administrator's offline tablet app.

`field_app.core` never imports Kivy (storage, sync, forms, location); `field_app.ui` is a thin Kivy layer over it.
"""
__version__ = "0.1.0"
