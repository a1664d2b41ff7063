"""Identifiers shared by the demo builder and loader."""

CONTRACT_CATEGORY_ID = "contracts"
OFFERING_HREF = "/tmf-api/productCatalogManagement/v4/productOffering/{id}"
CATEGORY_HREF = "/tmf-api/productCatalogManagement/v4/category/{id}"
PRODUCT_HREF = "/tmf-api/productInventory/v4/product/{id}"
