//! The reliable Redis queue. Every transition is one Lua script (see `lua/`).
