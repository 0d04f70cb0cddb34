"""Helpers beneath the app and the project shell: database access from async code, request ids in logs,
the rule for untrusted text, atomic local file storage. They import neither `generations` nor `playground`."""
