"""Wangge server: the Flask API and web pages.

create_app() only wires things together; each feature package registers its own routes and CLI commands.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from . import api, config, errors, extensions, models  # noqa: F401  (models: register all tables)
from . import demo, jsontext, web
from .accounts import cli as accounts_cli
from .devices import cli as devices_cli
from .geo import cli as geo_cli
from .maps import routes as maps_routes
from .review import routes as review_routes
from .schemas import reject_nul_arguments

__version__ = "0.1.0"


def create_app(overrides: Mapping | None = None) -> Flask:
    overrides = dict(overrides or {})
    # Tests and deployments may place the instance folder (SQLite file, secret key, uploads) anywhere.
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get("WANGGE_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.json = jsontext.JSONProvider(app)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(config.from_environment(app.instance_path))
    app.config.update(overrides)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    extensions.init_app(app)
    errors.init_app(app)
    app.before_request(reject_nul_arguments)
    api.init_app(app)
    web.init_app(app)
    # Web pages by feature (the API blueprints are wired in api.py).
    for pages in (review_routes.bp, maps_routes.pages, maps_routes.data):
        app.register_blueprint(pages)
    for feature_cli in (geo_cli, accounts_cli, devices_cli, demo):
        feature_cli.init_app(app)
    return app
