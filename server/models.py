"""Imports every model module so the metadata (and Alembic's autogenerate) sees all tables."""
from .accounts.models import ApiToken, User, UserScope  # noqa: F401
from .attachments.models import Attachment, RecordAttachment  # noqa: F401
from .devices.models import Device, EnrollmentCode  # noqa: F401
from .geo.models import Community, District, Grid, GridImport, Street  # noqa: F401
from .records.models import AuditEvent, Record, RecordChange, RecordConflict  # noqa: F401
from .sync.models import Mutation  # noqa: F401
from .maps.models import STATS_INDEX  # noqa: F401
from .review.models import CaseClock, TimeLimit  # noqa: F401
