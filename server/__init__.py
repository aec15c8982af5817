"""hcdc_server: the shared hcdc service (database, JSON API, ingest, dispatcher)."""
