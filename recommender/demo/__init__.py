"""Demo data set: IBM Telco Customer Churn as TMF620 offerings + TMF637 products.

See ``README.md`` beside this file for provenance and licence.
"""

from recommender.demo.loader import contract_offering_ids, holdings_from_products, load_demo

__all__ = ["contract_offering_ids", "holdings_from_products", "load_demo"]
