"""Customer segmentation: quality measures, profiles, the stage, and segment labels as a feature."""

from crmflow.segmentation.assign import SegmentAssigner
from crmflow.segmentation.metrics import SEGMENTATION_METRICS, segmentation_metrics
from crmflow.segmentation.profiles import segment_profiles

__all__ = ["SEGMENTATION_METRICS", "SegmentAssigner", "segment_profiles", "segmentation_metrics"]
