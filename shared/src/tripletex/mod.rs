//! Tripletex API v2 client (filled in by its owner)
