print("bench-redis: not yet implemented")
