//! Bulk migration (skeleton; being written).
