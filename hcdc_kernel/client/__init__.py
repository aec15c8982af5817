"""The hcdc client for notebooks: ``dc = hcdc_kernel.connect()``.

Queries return astropy Tables (units, Time columns), processes are objects with their actions,
products load as objects, and errors are exceptions carrying the server's message.
"""

from hcdc_kernel.client.errors import (
    HcdcAuthError,
    HcdcConflictError,
    HcdcConnectionError,
    HcdcError,
    HcdcNotFoundError,
    HcdcPermissionError,
    HcdcProcessError,
    HcdcRequestError,
    HcdcServerError,
    HcdcTimeoutError,
    HcdcUnsupportedError,
)
from hcdc_kernel.client.filters import Range
from hcdc_kernel.client.models import (
    AssociationPreview,
    Invitation,
    Recipe,
    Workflow,
    Workspace,
)
from hcdc_kernel.client.process import Batch, Process
from hcdc_kernel.client.products import ContrastCurveProduct, load_product
from hcdc_kernel.client.session import HcdcClient, connect
from hcdc_kernel.client.tables import DATA_COLUMNS, PROCESS_COLUMNS

__all__ = [
    "DATA_COLUMNS",
    "PROCESS_COLUMNS",
    "AssociationPreview",
    "Batch",
    "ContrastCurveProduct",
    "HcdcAuthError",
    "HcdcClient",
    "HcdcConflictError",
    "HcdcConnectionError",
    "HcdcError",
    "HcdcNotFoundError",
    "HcdcPermissionError",
    "HcdcProcessError",
    "HcdcRequestError",
    "HcdcServerError",
    "HcdcTimeoutError",
    "HcdcUnsupportedError",
    "Invitation",
    "Process",
    "Range",
    "Recipe",
    "Workflow",
    "Workspace",
    "connect",
    "load_product",
]
