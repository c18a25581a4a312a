"""Test support, outside `lib/`: production code never imports it (an import-linter contract says so).

Local stand-ins that speak the Gemini and Stripe wire protocols (`gemini_standin`, `stripe_standin`),
the report seeder (`report_seed`), a sample export set drawn by the offline renderer
(`export_sample`), and running a job's differences in-process without credits (`generation`).
Tests, benchmarks and notebooks use it; it may import anything in lib.
"""
