"""JupyterHub glue of hcdc (installed as ``hcdc_hub``).

``jupyterhub_config.py`` sets traits only; the classes it names live here: the authenticator
backed by hcdc's users, the hooks that equip each user server (hcdc token, workspace folders),
the contents manager that keeps viewers' workspaces read-only, and the deployment values
derived from hcdc's settings.
"""
