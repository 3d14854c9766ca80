"""Third-party browser assets served by us from their Python packages: no CDN, no internet needed."""
from flask import Blueprint, send_from_directory
from xstatic.pkg import leaflet

bp = Blueprint("assets", __name__)


@bp.get("/vendor/leaflet/<path:filename>")
def leaflet_file(filename: str):
    response = send_from_directory(leaflet.BASE_DIR, filename, max_age=86400)
    return response
