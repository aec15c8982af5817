"""hcdc_server.dispatch."""
