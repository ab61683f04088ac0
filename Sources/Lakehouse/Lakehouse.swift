// The Lakehouse module. See README.md for its role.
