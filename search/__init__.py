"""Search machinery shared by recall and archival memory."""
