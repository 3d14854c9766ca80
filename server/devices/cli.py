"""CLI commands for devices: thin wrappers over the services."""
from flask import Flask


def init_app(app: Flask) -> None:
    pass
