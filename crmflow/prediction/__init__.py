"""Churn / response prediction from the customer table."""
