//! Application services (filled in by its owner)
