"""Reports from stored results: tables, the leaderboard and plots."""
