print("lakewriter: not yet implemented")
