"""openHandwerk vocabulary: paths, field spellings, the record parser. No I/O."""
