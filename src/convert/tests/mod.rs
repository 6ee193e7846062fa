//! Golden tests for the conversion module.
