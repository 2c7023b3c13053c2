"""The computing-resource registry: versioned compute pools per site and verification records.

Imports only the shared model and the inventory; the service and the CLI expose it.
"""

from greenwatch.resources._errors import PoolNotFoundError, RegistrationError, VersionConflictError
from greenwatch.resources._registry import (
    INVENTORY,
    REGISTRY_FILE,
    ResourceRegistry,
)
from greenwatch.resources._verify import BENCHMARKS, Verification, verification_frame

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
