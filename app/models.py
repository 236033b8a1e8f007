"""Imports every model module so that metadata (create_all, Alembic) sees all tables."""
from app.core import (
    health,  # noqa: F401
    jobs,  # noqa: F401
)
from app.general.audit import models as audit_models  # noqa: F401
from app.general.auth import models as auth_models  # noqa: F401
from app.general.contracts import models as contract_models  # noqa: F401
from app.general.notifications import models as notification_models  # noqa: F401
from app.general.org import models as org_models  # noqa: F401
from app.school.classes import models as class_models  # noqa: F401
from app.school.credentials import models as credential_models  # noqa: F401
from app.school.offboarding import models as offboarding_models  # noqa: F401
from app.school.staff import models as staff_models  # noqa: F401
from app.school.teaching import models as teaching_models  # noqa: F401
