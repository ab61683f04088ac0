// The ObjectStore module. See README.md for its role.
