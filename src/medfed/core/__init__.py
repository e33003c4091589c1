"""Study configuration, messages and their wire encoding."""
