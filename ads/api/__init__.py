"""The advertiser API (``/api/v1/``): thin DRF adapters over the domain modules."""
