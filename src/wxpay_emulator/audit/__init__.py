"""The audit of a merchant's notification handler: genuine notifications and precisely broken ones.

``notify.py`` runs the probes inside the emulator (it holds the platform keys); ``report.py`` is the
report card every face shares (CLI, ``POST /emulator/v1/audits``, the pytest plugin's ``audit_notify``).
"""
