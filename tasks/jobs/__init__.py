"""Public job types: the catalog (data the API validates against) and their implementations."""
