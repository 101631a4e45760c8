"""socialign llm_bridge."""
