"""The shared model: canonical metric registry, sample batches, typed errors, config loading.

Every stage may import this package; it imports no stage.
"""

from greenwatch.model._batch import (
    BASE_COLUMNS,
    concat_batches,
    empty_batch,
    label_columns,
    make_batch,
    validate_batch,
)
from greenwatch.model._config import YamlDocument, format_loc, load_yaml, parse_model
from greenwatch.model._errors import BatchError, ConfigError, GreenwatchError
from greenwatch.model._paths import shipped_dir
from greenwatch.model._registry import (
    COMMON_LABELS,
    EXT_PREFIX,
    REGISTRY,
    VOCABULARIES,
    MetricKind,
    MetricSpec,
    metric_spec,
)
from greenwatch.model._throttle import FailureThrottle

__all__ = [
    "BASE_COLUMNS",
    "COMMON_LABELS",
    "EXT_PREFIX",
    "REGISTRY",
    "VOCABULARIES",
    "BatchError",
    "ConfigError",
    "FailureThrottle",
    "GreenwatchError",
    "MetricKind",
    "MetricSpec",
    "YamlDocument",
    "concat_batches",
    "empty_batch",
    "format_loc",
    "label_columns",
    "load_yaml",
    "make_batch",
    "metric_spec",
    "parse_model",
    "shipped_dir",
    "validate_batch",
]
