"""Language labels, quality rules, personal-data scrubbing and the language mixture over document shards."""
