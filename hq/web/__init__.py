"""The monitoring dashboard (``rekam-hq serve``): logins, pages, data endpoints, live updates."""
