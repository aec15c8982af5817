"""hcdc_server.storage."""
