"""Turning composed configuration into validated components."""

from crmflow.config.tracking import register_resolver

register_resolver()  # `${crmflow.experiment:}` in conf/tracking/*.yaml resolves wherever a config is checked
