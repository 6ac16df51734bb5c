"""GridSense HTTP API: event classification and grid risk look-ups (FastAPI, `serving.main:create_app`).
Imports core/, features/ and models/; never training/."""
