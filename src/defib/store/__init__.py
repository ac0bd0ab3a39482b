"""Storage: SQLAlchemy tables, repository functions and Alembic migrations.

Only the service layer and the process bootstrap import this package.
"""

from defib.store.database import Database

__all__ = ["Database"]
