//! Configuration: the native TOML model and the keepalived.conf importer.
