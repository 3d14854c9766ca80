"""sync API routes: parse with a schema, call a service, dump with a schema."""
from flask import Blueprint

bp = Blueprint("sync", __name__)
