"""hcdc_widgets: ipywidgets browsers and launchers built on :mod:`hcdc_kernel.client`.

Each widget is usable alone and composes with the others through traitlets: a
:class:`DataBrowser`'s ``selected_ids`` feeds a :class:`RecipeLauncher` (``follow``), its page
feeds a :class:`SkyView`. Widgets make no HTTP calls of their own: they hold an
:class:`~hcdc_kernel.client.HcdcClient` (``hcdc_kernel.connect()`` unless given one).
"""

from hcdc_widgets.data_browser import DATA_FILTER_FIELDS, DataBrowser, FilterField
from hcdc_widgets.fits_view import HeaderView, ImageView
from hcdc_widgets.image_viewer import ImageViewer
from hcdc_widgets.launcher import RecipeLauncher
from hcdc_widgets.process_browser import ProcessBrowser
from hcdc_widgets.schema_form import ParamForm
from hcdc_widgets.table import PagedTable
from hcdc_widgets.workspaces import WorkspaceManager

__all__ = [
    "DATA_FILTER_FIELDS",
    "DataBrowser",
    "FilterField",
    "HeaderView",
    "ImageView",
    "ImageViewer",
    "PagedTable",
    "ParamForm",
    "ProcessBrowser",
    "RecipeLauncher",
    "SkyView",
    "WorkspaceManager",
]


def __getattr__(name: str) -> object:
    # SkyView imports ipyaladin (and anywidget): only when asked for.
    if name == "SkyView":
        from hcdc_widgets.skyview import SkyView

        return SkyView
    raise AttributeError(f"module 'hcdc_widgets' has no attribute {name!r}")
