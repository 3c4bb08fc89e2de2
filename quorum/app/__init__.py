"""The GitHub App (`quorum app`): a FastAPI webhook server (server.py) that verifies each
delivery's signature (signature.py), turns it into a job (triggers.py), keeps it in a durable
SQLite queue (store.py) and hands it to a worker pool (workers.py) that runs the job flow
(handler.py). Settings are read once from the environment (settings.py)."""
