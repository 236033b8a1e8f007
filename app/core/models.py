"""Declarative base with a constraint naming convention, time helpers for models, and indexes only PostgreSQL builds."""
from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, registry
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import BinaryExpression, Grouping
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite stores no offset; we only ever write UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


# --- indexes only PostgreSQL builds ---------------------------------------------------------------------------

ONLY_ON = "only_on"  # Index.info key naming the one dialect that builds the index
PG_TRGM = sa.DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql")


def concat(*parts) -> sa.ColumnElement[str]:
    """`a || b || c` written the way PostgreSQL prints an index expression back, `(a || b) || c`: Alembic compares
    index expressions as text, so a flat `a || b || c` in the model would look like a change of the index."""
    elements = [sa.type_coerce(part, sa.String) for part in parts]  # ORM attributes, text() literals: expressions
    expression = elements[0]
    for number, element in enumerate(elements[1:]):
        left = expression if number == 0 else Grouping(expression)
        expression = BinaryExpression(left, element, operators.concat_op, type_=sa.String())
    return expression


def install_guards(table: sa.Table, pg: str, sqlite: tuple[str, ...]) -> None:
    """Give create_all() (the tests) the database triggers a migration installs: `pg` (one script) on PostgreSQL,
    each statement of `sqlite` on SQLite."""
    sa.event.listen(table, "after_create", sa.DDL(pg.replace("%", "%%")).execute_if(dialect="postgresql"))
    for statement in sqlite:
        sa.event.listen(table, "after_create", sa.DDL(statement).execute_if(dialect="sqlite"))


def postgresql_only(index: sa.Index) -> sa.Index:
    """Mark an index that only PostgreSQL builds (an expression index for a sort, a trigram index for a search):
    `create_all` skips it elsewhere, and `include_in_comparison` leaves it out of other dialects' schema checks."""
    index.info[ONLY_ON] = "postgresql"
    return index.ddl_if(dialect="postgresql")


def trigram_index(name: str, expression) -> sa.Index:
    """A PostgreSQL GIN trigram index (pg_trgm), so `LIKE`/`ILIKE '%word%'` on `expression` need not read the
    whole table; the extension is created with the table (migrations create it themselves)."""
    key = expression.key if isinstance(expression, sa.Column) else "expression"
    element = expression if isinstance(expression, sa.Column) else expression.label(key)
    index = postgresql_only(sa.Index(name, element, postgresql_using="gin", postgresql_ops={key: "gin_trgm_ops"}))
    if not sa.event.contains(index.table, "before_create", PG_TRGM):
        sa.event.listen(index.table, "before_create", PG_TRGM)
    return index


def include_in_comparison(dialect_name: str):
    """Alembic's `include_object` hook for a `dialect_name` database: indexes built only on another dialect are
    left out of the comparison of models and migrations (migrations/env.py, tests/test_migrations.py)."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        return type_ != "index" or obj.info.get(ONLY_ON, dialect_name) == dialect_name

    return include_object


@contextmanager
def quiet_about_uncompared_indexes(metadata: sa.MetaData, dialect_name: str):
    """Alembic warns that SQLite cannot compare expression indexes before it asks `include_object`; for indexes
    built only on another dialect that is expected (the PostgreSQL pass compares them), so only those are quiet."""
    with warnings.catch_warnings():
        for table in metadata.tables.values():
            for index in table.indexes:
                if index.info.get(ONLY_ON, dialect_name) != dialect_name:
                    warnings.filterwarnings("ignore", f".*expression-based index {re.escape(repr(index.name))}")
        yield
