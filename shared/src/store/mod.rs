//! DynamoDB store (filled in by its owner)
