"""Kernels in C++ for the operations XLA's CPU backend runs slowly, built on first use (build.py)."""
