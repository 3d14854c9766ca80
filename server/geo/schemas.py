"""Query-argument schemas for the grid API."""
from marshmallow import ValidationError, fields, validate

from ..schemas import BaseSchema

GRID_CODE = validate.Regexp(r"^\d{15}$", error="must be a 15-digit grid code (GB/T 30428.1)")


class BBoxField(fields.Field):
    """`minLon,minLat,maxLon,maxLat` as in RFC 7946 bbox order."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            parts = [float(p) for p in str(value).split(",")]
        except ValueError as error:
            raise ValidationError("must be four numbers: minLon,minLat,maxLon,maxLat") from error
        if len(parts) != 4:
            raise ValidationError("must be four numbers: minLon,minLat,maxLon,maxLat")
        min_lon, min_lat, max_lon, max_lat = parts
        if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
            raise ValidationError("must satisfy -180 <= minLon <= maxLon <= 180 and -90 <= minLat <= maxLat <= 90")
        return tuple(parts)


class GridFilterSchema(BaseSchema):
    district = fields.String(validate=validate.Regexp(r"^\d{6}$", error="must be a 6-digit district code"))
    street = fields.String(validate=validate.Regexp(r"^\d{9}$", error="must be a 9-digit street code"))
    community = fields.String(validate=validate.Regexp(r"^\d{12}$", error="must be a 12-digit community code"))
    bbox = BBoxField()


class LocateQuerySchema(BaseSchema):
    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))


class GridCodeSchema(BaseSchema):
    code = fields.String(required=True, validate=GRID_CODE)
