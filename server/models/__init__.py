"""hcdc_server.models."""
