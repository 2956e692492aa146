"""Exact and near-duplicate removal (MinHash LSH with verification) over document shards."""
