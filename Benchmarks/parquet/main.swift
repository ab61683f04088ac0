print("bench-parquet: not yet implemented")
