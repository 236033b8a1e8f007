"""Subjects, classes, students and guardians, enrolments and dated teaching assignments."""
