//! An emulated old Auth0 tenant (skeleton; being written).
