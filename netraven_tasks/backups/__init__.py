"""Configuration backups kept in the database: content-addressed, compressed, per device and namespace."""
