"""crmflow: declarative, config-driven CRM customer analytics (segmentation, rules, prediction)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
