"""hcdc_server.api."""
