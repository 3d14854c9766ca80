"""attachments API routes: parse with a schema, call a service, dump with a schema."""
from flask import Blueprint

bp = Blueprint("attachments", __name__)
