"""hcdc_kernel.recipes."""
