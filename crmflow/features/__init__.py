"""Customer tables built from the loaded data: RFM features, attributes, targets."""

from crmflow.features.attributes import CustomerAttributes
from crmflow.features.rfm import RFMFeatures, activity_label, rfm_features
from crmflow.features.table import CustomerTable

__all__ = ["CustomerAttributes", "CustomerTable", "RFMFeatures", "activity_label", "rfm_features"]
