"""Churn / response classification and customer-value regression from the customer table."""
