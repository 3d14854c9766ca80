"""The index the grid statistics need (migration 0004_stats_indexes); the maps feature has no tables of its own.

One covering index serves every metric: the statistics group by grid code and filter on category, the time window
(occurred_at), the workflow status and, for overdue cases, the arrival time (received_at). With grid_code first,
SQLite walks the index grid by grid (a skip-scan over ~1,100 codes, each a range seek on category and time) and
aggregates without a sort or a table lookup; PostgreSQL can answer from it with an index-only scan.
"""
from sqlalchemy import Index

from ..records.models import Record

STATS_INDEX = Index("ix_records_stats", Record.grid_code, Record.category, Record.occurred_at, Record.status,
                    Record.received_at)
