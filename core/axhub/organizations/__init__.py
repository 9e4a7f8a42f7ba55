"""An organisation's own settings (time zone, locale, attendance alert threshold):
``/api/organization/settings``."""
