"""Evaluation shared by training (calibration, threshold) and the reports (metrics, intervals)."""
