// The RedisStreams module. See README.md for its role.
