//! The worker runtime and its middleware chain.
