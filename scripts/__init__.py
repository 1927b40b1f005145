"""Developer tools: fixture generators (`scripts/fixtures/`), terminology builder, test-server installer."""
