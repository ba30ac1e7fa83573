"""Emitters: one module per backend, each rendering whole files from templates."""
