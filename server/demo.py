"""`flask demo load`: demo accounts and records for trying Wangge out. Never run in production."""
from flask import Flask


def init_app(app: Flask) -> None:
    pass
