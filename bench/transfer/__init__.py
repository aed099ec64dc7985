"""One seeder, one leecher, real programs: time to verified data (`python -m bench transfer`)."""
