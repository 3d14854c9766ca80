"""Column types that behave the same on SQLite and PostgreSQL."""
from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL (indexable, compact); JSON text on SQLite.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), never a BIGINT one.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
