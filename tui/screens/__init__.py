"""The operator's screens, in the order of a working day: login, service point, home, find
resident (and confirm), the capture wizard, review and seal; plus sync and technician."""
