print("bench-objectstore: not yet implemented")
