"""Public job types: the catalogue (data the API validates against) and their implementations."""
