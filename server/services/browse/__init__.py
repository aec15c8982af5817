"""The browse API's filter compiler and service (process_list, data_list)."""

from hcdc_server.services.browse.service import BrowseService

__all__ = ["BrowseService"]
