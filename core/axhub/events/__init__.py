"""The Attendance-X side: ``/api/events``, their attendees and attendance."""
