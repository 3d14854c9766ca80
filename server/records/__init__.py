"""Incidents (mediation, labor service, integrity concern) and visit rounds; categories; history; the read API."""
