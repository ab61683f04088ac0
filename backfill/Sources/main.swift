print("lakewriter-backfill: not yet implemented")
