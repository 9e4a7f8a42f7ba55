"""An organisation's own settings (time zone, locale): ``/api/organization/settings``."""
