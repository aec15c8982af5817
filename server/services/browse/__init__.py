"""The browse API's filter compiler and service (process_list, data_list, their exports)."""

from hcdc_server.services.browse.service import BrowseService, Export
from hcdc_server.services.browse.values import FilterLimits

__all__ = ["BrowseService", "Export", "FilterLimits"]
