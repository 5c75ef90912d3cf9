"""Reports built from results.json alone: markdown tables, figures and run-vs-run comparison."""
