"""devices API routes: parse with a schema, call a service, dump with a schema."""
from flask import Blueprint

bp = Blueprint("devices", __name__)
