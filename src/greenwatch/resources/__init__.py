"""The computing-resource registry: versioned compute pools per site and verification records.

Imports only the shared model and the inventory; the service and the CLI expose it.
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.resources._names import BENCHMARKS, REGISTRY_FILE

if TYPE_CHECKING:
    from greenwatch.resources._errors import (
        PoolNotFoundError,
        RegistrationError,
        VersionConflictError,
    )
    from greenwatch.resources._registry import (
        INVENTORY,
        ResourceRegistry,
    )
    from greenwatch.resources._verify import Verification, verification_frame


__all__ = [
    "BENCHMARKS",
    "INVENTORY",
    "REGISTRY_FILE",
    "PoolNotFoundError",
    "RegistrationError",
    "ResourceRegistry",
    "Verification",
    "VersionConflictError",
    "verification_frame",
]

__getattr__ = lazy_face(__name__, "_errors", "_registry", "_verify")
