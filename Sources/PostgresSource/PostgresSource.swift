// The PostgresSource module. See README.md for its role.
