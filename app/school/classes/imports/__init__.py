"""Spreadsheet imports of the classes module: students with guardians and enrolments, and teaching assignments."""
from app.school.classes.imports.assignments import AssignmentImport
from app.school.classes.imports.students import StudentImport

__all__ = ["AssignmentImport", "StudentImport"]
