"""hcdc_server.schema."""
