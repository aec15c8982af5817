"""hcdc_kernel.jobs."""
