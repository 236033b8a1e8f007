"""Teaching hours and performance pay: calendar, timetable, lesson ledger, covers, hours, pay schemes, pay runs."""
