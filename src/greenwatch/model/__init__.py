"""The shared model: canonical metric registry, sample batches, typed errors, config loading,
the strict configuration base, secrets, the clock and time parsing.

Every stage may import this package; it imports no stage.
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.model._errors import BatchError, ConfigError, GreenwatchError, SystemFailureError
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

if TYPE_CHECKING:
    from greenwatch.model._batch import (
        concat_batches,
        label_columns,
        label_problem,
        make_batch,
        validate_batch,
    )
    from greenwatch.model._config import YamlDocument, format_loc, load_yaml, parse_model
    from greenwatch.model._strict import (
        SLUG,
        LabelFilters,
        MetricName,
        Regex,
        SecretError,
        SecretRef,
        Slug,
        StrictModel,
    )
    from greenwatch.model._time import (
        Clock,
        Duration,
        format_duration,
        parse_duration,
        parse_time_range,
        utc_now,
    )


__all__ = [
    "COMMON_LABELS",
    "EXT_PREFIX",
    "REGISTRY",
    "SLUG",
    "VOCABULARIES",
    "BatchError",
    "Clock",
    "ConfigError",
    "Duration",
    "FailureThrottle",
    "GreenwatchError",
    "LabelFilters",
    "MetricKind",
    "MetricName",
    "MetricSpec",
    "Regex",
    "SecretError",
    "SecretRef",
    "Slug",
    "StrictModel",
    "SystemFailureError",
    "YamlDocument",
    "concat_batches",
    "format_duration",
    "format_loc",
    "label_columns",
    "label_problem",
    "load_yaml",
    "make_batch",
    "metric_spec",
    "parse_duration",
    "parse_model",
    "parse_time_range",
    "shipped_dir",
    "utc_now",
    "validate_batch",
]

__getattr__ = lazy_face(__name__, "_batch", "_config", "_strict", "_time")
