"""hcdc in the Virtual Observatory: its GAVO DaCHS instance, the published tables (ObsCore, SIA
v2, DataLink, EPN-TAP), and DataCite records of validated datasets.

Only public data is published (:mod:`hcdc_server.services.visibility`); the published tables
live in DaCHS's database (schema ``hcdc_vo``), written by :mod:`.store` from :mod:`.records`.
"""
