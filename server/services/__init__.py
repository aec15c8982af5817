"""hcdc_server.services."""
