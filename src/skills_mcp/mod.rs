//! skills_mcp
