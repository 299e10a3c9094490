"""Planning and executing benchmark runs, and the accuracy regression gate."""
